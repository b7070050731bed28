#!/usr/bin/env python3
"""Train the pipeline's model of voices in general from ../shared/speech-background (deterministic).

    python scripts/train_voice_model.py [BACKGROUND_DIR] [--out mock_server/pipeline/models/voices.npz]
                                        [--components 128] [--check]

Recipe (Reynolds, Quatieri & Dunn 2000, "Speaker verification using adapted Gaussian mixture models";
S-norm: Kenny 2010, "Bayesian speaker verification with heavy-tailed priors"):
  1. every background utterance (sorted by name), and a copy of it after an 8 kHz telephone round trip
     (augmentation: the API takes 8 kHz audio), goes through the pipeline's own level normalisation, speech
     detection and speaker features (mock_server.pipeline), so training sees exactly what the server sees;
  2. a universal background model (UBM): a diagonal-covariance GMM of `--components` Gaussians fitted by
     scikit-learn's EM (k-means init, fixed random_state, one BLAS/OpenMP thread) on all those speech frames;
  3. score-normalisation sets, both from the same 121 fixed voices, through the runtime code
     (mock_server.pipeline.ubm): the statistics of every voice's whole (original) utterance give the T-norm
     speakers (MAP-adapted at run time with the pipeline's relevance factor); a 2 s piece of speech from the
     middle of every utterance gives the Z-norm test segments.
The result is written as an .npz whose bytes depend only on the inputs (sorted files, fixed seeds, fixed zip
timestamps), so running the script twice gives the same file; --check compares with the committed file instead
of writing. Needs the `train` extra (scikit-learn).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mock_server.pipeline import ubm  # noqa: E402
from mock_server.pipeline.config import DEFAULT_CONFIG  # noqa: E402
from mock_server.pipeline.features import speaker_features  # noqa: E402
from mock_server.pipeline.level import normalise_level  # noqa: E402
from mock_server.pipeline.voiceprint import speech_frame_mask  # noqa: E402

DEFAULT_OUT = ROOT / "mock_server" / "pipeline" / "models" / "voices.npz"
ZNORM_SECONDS = 2.0


def load(path: Path, sr: int) -> np.ndarray:
    x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    return (soxr.resample(x, rate, sr) if rate != sr else x).astype(np.float32)


def telephone(x: np.ndarray, sr: int) -> np.ndarray:
    return soxr.resample(soxr.resample(x, sr, 8000), 8000, sr).astype(np.float32)


def speech_features(x: np.ndarray) -> np.ndarray:
    """The server's view of a recording: speech frames of the speaker features, shape (n, dim)."""
    x = normalise_level(x, DEFAULT_CONFIG)
    feats = speaker_features(x, DEFAULT_CONFIG)
    return feats[speech_frame_mask(len(feats), x, DEFAULT_CONFIG)]


def fit_ubm(frames: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1):           # one thread: summation order, hence the bytes, fixed
        gmm = GaussianMixture(n_components=components, covariance_type="diag", max_iter=100, tol=1e-4,
                              reg_covar=1e-3, init_params="kmeans", random_state=0, n_init=1)
        gmm.fit(frames.astype(np.float64))
    order = np.lexsort(gmm.means_.T[::-1])       # a canonical component order
    return (gmm.weights_[order].astype(np.float32), gmm.means_[order].astype(np.float32),
            gmm.covariances_[order].astype(np.float32))


def write_npz(path: Path | None, arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz (readable by np.load) with fixed member timestamps, so equal arrays give equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, member.getvalue())
    data = buffer.getvalue()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return data


def train(background: Path, components: int) -> dict[str, np.ndarray]:
    sr = DEFAULT_CONFIG.sample_rate
    files = sorted(background.glob("*.flac"))
    if not files:
        raise SystemExit(f"no .flac files in {background}")
    per_voice, pool = [], []
    for path in files:
        x = load(path, sr)
        own = speech_features(x)
        per_voice.append(own)
        pool += [own, speech_features(telephone(x, sr))]
        print(f"  {path.name}: {len(own) / 100:.1f} s of speech", file=sys.stderr)
    frames = np.concatenate(pool)
    print(f"UBM: {components} diagonal Gaussians on {len(frames)} frames", file=sys.stderr)
    weights, means, variances = fit_ubm(frames, components)
    model = ubm.VoiceModel.from_arrays(weights, means, variances)
    tn, tf, zn, zf = [], [], [], []
    for own in per_voice:
        n, f = model.stats(own)
        tn.append(n)
        tf.append(f)
        mid, half = len(own) // 2, int(ZNORM_SECONDS * 50)
        n, f = model.stats(own[max(0, mid - half):mid + half])
        zn.append(n)
        zf.append(f)
    meta = {"source": background.name, "files": len(files), "components": components,
            "top_c": ubm.TOP_C, "znorm_seconds": ZNORM_SECONDS,
            "inputs_sha256": hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()}
    return {"weights": weights, "means": means, "variances": variances,
            "tnorm_counts": np.stack(tn).astype(np.float32), "tnorm_stats": np.stack(tf).astype(np.float16),
            "znorm_counts": np.stack(zn).astype(np.float32), "znorm_stats": np.stack(zf).astype(np.float16),
            "meta": np.array(json.dumps(meta, sort_keys=True))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("background", nargs="?", default=str(ROOT.parent / "shared" / "speech-background"))
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--components", type=int, default=ubm.COMPONENTS)
    ap.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = ap.parse_args(argv)
    arrays = train(Path(args.background), args.components)
    out = Path(args.out)
    if args.check:
        same = out.exists() and out.read_bytes() == write_npz(None, arrays)
        print("identical to" if same else "DIFFERS from", out)
        return 0 if same else 1
    data = write_npz(out, arrays)
    print(f"wrote {out} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
