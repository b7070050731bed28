#!/usr/bin/env python3
"""Train the pipeline's model of voices in general from ../shared/speech-background (deterministic).

    python scripts/train_voice_model.py [BACKGROUND_DIR] [--out mock_server/pipeline/models/voices.npz]
                                        [--components 128] [--check]

Recipe (Reynolds, Quatieri & Dunn 2000, "Speaker verification using adapted Gaussian mixture models";
S-norm: Kenny 2010, "Bayesian speaker verification with heavy-tailed priors"):
  1. every background utterance (sorted by name), and a copy of it after an 8 kHz telephone round trip
     (augmentation: the API takes 8 kHz audio), goes through the pipeline's own level normalisation, speech
     detection and speaker features (mock_server.pipeline), so training sees exactly what the server sees;
     augmentation with synthetic speech: SYNTHETIC_VOICES espeak-ng voices (accents x variants x pitch x speed,
     none of them a voice of fixtures/) read sentences of SENTENCES, so that text-to-speech voices, which
     developers feed a mock with, have impostors of their own kind (without them every synthetic voice looks
     closer to every other than any human background voice does, and one espeak voice is taken for another);
  2. a universal background model (UBM): a diagonal-covariance GMM of `--components` Gaussians fitted by
     scikit-learn's EM (k-means init, fixed random_state, one BLAS/OpenMP thread) on all those speech frames;
  3. score-normalisation sets, from the same fixed voices (121 people and the synthetic ones), through the runtime code
     (mock_server.pipeline.ubm): the statistics of every voice's whole (original) utterance give the T-norm
     speakers (MAP-adapted at run time with the pipeline's relevance factor); a 2 s piece of speech from the
     middle of every utterance gives the Z-norm test segments.
The result is written as an .npz whose bytes depend only on the inputs (sorted files, fixed seeds, fixed zip
timestamps, numpy and OpenBLAS held to their AVX2 code on any x86-64 CPU), so running the script twice gives the
same file; --check compares with the committed file instead of writing. Needs the `train` extra (scikit-learn).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path


def _avx512() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            return any(line.startswith("flags") and " avx512f" in line for line in cpuinfo)
    except OSError:
        return False


# The same bytes on every x86-64 CPU: numpy's AVX-512 loops and OpenBLAS's AVX-512 (SkylakeX) kernels round float32
# sums otherwise than the AVX2 ones the committed model was made with (checked on an AVX-512 machine: the model came
# out again only with both held at AVX2). Set before numpy loads, only where AVX-512 is; either can be overridden.
if _avx512():
    os.environ.setdefault("NPY_DISABLE_CPU_FEATURES", "X86_V4 AVX512_ICL AVX512_SPR")
    os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import soxr  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mock_server.pipeline import ubm, voiceprint  # noqa: E402
from mock_server.pipeline.config import DEFAULT_CONFIG  # noqa: E402

DEFAULT_OUT = ROOT / "mock_server" / "pipeline" / "models" / "voices.npz"
ZNORM_SECONDS = 2.0
SYNTHETIC_VOICES = 48
ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-us-nyc", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd"]
# espeak-ng variants; f1, f3, f5, m3 and m7 are left out because fixtures/ voices use them
VARIANTS = ["m1", "m2", "m4", "m5", "m6", "m8", "f2", "f4", "klatt", "klatt3", "Andy", "Annie", "adam", "linda",
            "max", "michel"]
SENTENCES = [
    "A quiet river runs past the old mill at the edge of town.",
    "Please remember to water the plants while we are away.",
    "The committee will publish its findings early next spring.",
    "He counted seven red boats drifting slowly across the bay.",
    "Our train was delayed for nearly an hour by heavy snow.",
    "She painted the kitchen a warm shade of yellow last weekend.",
    "Nobody expected the small bakery to become so popular.",
    "The museum opens its new wing to visitors on Saturday.",
    "Bring a torch, because the path through the woods is dark.",
    "They argued for hours about the best route up the mountain.",
    "My neighbour keeps bees in three white hives behind the shed.",
    "The results of the survey surprised almost everyone involved.",
    "Turn left at the church and follow the road to the harbour.",
    "Fresh bread and strong coffee make a very good breakfast.",
    "The orchestra rehearsed the final movement one more time.",
    "A sudden gust of wind scattered the papers across the floor.",
]


def synthetic_voice(i: int, tmp: Path, sr: int) -> np.ndarray:
    """The i-th synthetic background voice reading four sentences (espeak-ng), 16 kHz float32 with 0.3 s pauses."""
    import subprocess
    accent, variant = ACCENTS[i % len(ACCENTS)], VARIANTS[(i * 5) % len(VARIANTS)]
    pitch, speed = 10 + (i * 37) % 85, 125 + (i * 17) % 60
    parts = []
    for k in range(4):
        wav = tmp / f"v{i}-{k}.wav"
        text = SENTENCES[(i * 3 + k * 5) % len(SENTENCES)]
        subprocess.run(["espeak-ng", "-v", f"{accent}+{variant}", "-p", str(pitch), "-s", str(speed), "-w", str(wav),
                        text], check=True, capture_output=True)
        y, rate = sf.read(str(wav), dtype="float32")
        parts += [soxr.resample(y, rate, sr).astype(np.float32), np.zeros(int(0.3 * sr), np.float32)]
    x = np.concatenate(parts)
    noise = np.random.default_rng(i).standard_normal(len(x)).astype(np.float32) * 10 ** (-70 / 20)
    return x * np.float32(0.1 / max(float(np.sqrt(np.mean(x ** 2))), 1e-9)) + noise


def load(path: Path, sr: int) -> np.ndarray:
    x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    return (soxr.resample(x, rate, sr) if rate != sr else x).astype(np.float32)


def telephone(x: np.ndarray, sr: int) -> np.ndarray:
    return soxr.resample(soxr.resample(x, sr, 8000), 8000, sr).astype(np.float32)


def speech_features(x: np.ndarray) -> np.ndarray:
    """The server's view of a recording: speech frames of the speaker features, shape (n, dim)."""
    feats, speech = voiceprint.speech_features(x, DEFAULT_CONFIG)
    return feats[speech]


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
    recordings = [(path.name, load(path, sr)) for path in files]
    with tempfile.TemporaryDirectory() as tmp:
        recordings += [(f"espeak-ng voice {i}", synthetic_voice(i, Path(tmp), sr)) for i in range(SYNTHETIC_VOICES)]
    for name, x in recordings:
        own = speech_features(x)
        per_voice.append(own)
        pool += [own, speech_features(telephone(x, sr))]
        print(f"  {name}: {len(own) / 100:.1f} s of speech", file=sys.stderr)
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
    meta = {"source": background.name, "files": len(files), "synthetic_voices": SYNTHETIC_VOICES,
            "components": components,
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
