"""The committed model of voices in general (mock_server/pipeline/models/voices.npz): loaded fast, consistent,
and reproduced byte for byte by scripts/train_voice_model.py where the training voices are at hand."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
BACKGROUND = ROOT.parent / "shared" / "speech-background"


def test_the_committed_model_is_consistent_with_the_pipeline():
    from mock_server.pipeline import DEFAULT_CONFIG, ubm
    model = ubm.voice_model()
    with np.load(ubm.MODEL_FILE) as z:
        meta = json.loads(str(z["meta"].reshape(-1)[0]))
    dim = (DEFAULT_CONFIG.n_mfcc - DEFAULT_CONFIG.drop_c0) * (2 if DEFAULT_CONFIG.use_deltas else 1)
    assert (model.components, model.dim) == (meta["components"], dim)
    assert np.isclose(model.weights.sum(), 1.0, atol=1e-4) and (model.variances > 0).all()
    assert meta["top_c"] == ubm.TOP_C
    assert len(model.tnorm_counts) == len(model.znorm_counts) == meta["files"] + meta["synthetic_voices"]


def test_the_model_version_goes_with_the_committed_model_file():
    import hashlib

    from mock_server import pipeline
    digest = hashlib.sha256(pipeline.ubm.MODEL_FILE.read_bytes()).hexdigest()
    assert digest == pipeline.MODEL_FILE_SHA256, (
        "models/voices.npz changed: stored voiceprints made with the old file are incompatible, so bump "
        f"MODEL_VERSION (the service recomputes them from the kept audio) and set MODEL_FILE_SHA256 = {digest!r}")


@pytest.mark.slow  # ~10 min: the whole training recipe
@pytest.mark.skipif(not BACKGROUND.is_dir(), reason="../shared/speech-background (the training voices) is not here: "
                                                     "only CI and the maintainers' checkout have it")
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="the training recipe needs espeak-ng")
def test_the_training_script_reproduces_the_committed_model_byte_for_byte():
    pytest.importorskip("sklearn", reason="the training recipe needs the train extra (scikit-learn)")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_voice_model.py"), str(BACKGROUND), "--check"],
                          capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0 and "identical" in done.stdout, done.stdout + done.stderr[-2000:]


def test_the_eigenvoice_axes_are_orthogonal_ordered_and_scaled_to_the_background_voices_spread():
    from mock_server.pipeline import ubm
    model = ubm.voice_model()
    mean, v, vv = model.eigenvoices
    axes = v.reshape(-1, v.shape[2]).astype(np.float64)               # (C * D, K)
    gram = axes.T @ axes
    spread = np.diag(gram)
    assert v.shape[2] == ubm.EIGENVOICES and (np.diff(spread) <= 1e-6 * spread[0]).all()
    assert np.allclose(gram - np.diag(spread), 0.0, atol=1e-3 * spread[0])
    assert np.allclose(vv.sum(axis=0), gram, rtol=1e-3, atol=1e-3 * spread[0])
    # y ~ N(0, I): along each axis the background voices' offsets vary by exactly that axis's squared length
    b = len(model.tnorm_counts)
    offsets = (model.tnorm_stats.reshape(b, -1, model.dim) / (model.tnorm_counts[..., None]
                                                              + ubm.EIGENVOICE_RELEVANCE)).reshape(b, -1)
    along = (offsets - mean.reshape(-1)) @ (axes / np.sqrt(spread))   # (B, K) coordinates on the unit axes
    assert np.allclose(np.mean(along ** 2, axis=0), spread, rtol=1e-2)


def test_a_few_frames_of_a_voice_like_the_background_ones_are_placed_near_it():
    """Eigenvoice MAP's point: from a few frames per Gaussian it recovers a voice that lies in the subspace far
    better than plain MAP, which can only move each Gaussian part of the way (and the silent and the plentiful
    cases reduce to the prior and to the data)."""
    from mock_server.pipeline import DEFAULT_CONFIG, ubm
    model = ubm.voice_model()
    mean, v, _ = model.eigenvoices
    c, d, r = model.components, model.dim, DEFAULT_CONFIG.relevance
    voice = (mean + np.einsum("cdk,k->cd", v, np.random.default_rng(0).normal(size=v.shape[2]))).astype(np.float32)
    n = np.full(c, 3.0, np.float32)                                   # ~4 s of speech over 128 Gaussians
    got = model.map_offsets(n, n[:, None] * voice, r)
    plain = n[:, None] * voice / (n[:, None] + r)
    assert np.linalg.norm(got - voice) < 0.75 * np.linalg.norm(plain - voice)
    silent = model.map_offsets(np.zeros(c, np.float32), np.zeros((c, d), np.float32), r)
    assert np.allclose(silent, ubm.EIGENVOICE_WEIGHT * mean, atol=1e-5)   # the subspace's prior; plain MAP: 0
    plenty = np.full(c, 1e6, np.float32)
    assert np.allclose(model.map_offsets(plenty, plenty[:, None] * voice, r), voice, atol=1e-3)
    batched = model.map_offsets(np.stack([n, 2 * n]), np.stack([n[:, None] * voice, 2 * n[:, None] * voice]), r)
    assert np.allclose(batched[0], got, atol=1e-6)                    # one voice or many: the same answer


# Fields that only steer identify's decisions: changing them leaves stored voiceprints valid. Every other field
# (speech detection, features, relevance, S-norm) and the model's recipe constants shape the voiceprints.
DECISION_ONLY = {"accept_threshold", "frame_decimation", "block", "change_window", "change_factor", "label_changes",
                 "label_window", "label_tnorm_weight", "label_switch_cost", "label_pause_switch_cost", "min_paused_run",
                 "full_enroll_seconds", "max_noise_shift", "noise_shift_from_db", "noise_shift_full_db",
                 "noise_pause_seconds",
                 "change_background_voices", "max_pause", "min_segment", "min_enroll_speech"}


def test_the_model_version_goes_with_the_voiceprint_recipe():
    import dataclasses
    import hashlib

    from mock_server import pipeline
    from mock_server.pipeline import ubm
    recipe = {f.name: getattr(pipeline.DEFAULT_CONFIG, f.name) for f in dataclasses.fields(pipeline.DEFAULT_CONFIG)
              if f.name not in DECISION_ONLY}
    recipe.update(components=ubm.COMPONENTS, top_c=ubm.TOP_C, eigenvoices=ubm.EIGENVOICES,
                  eigenvoice_weight=ubm.EIGENVOICE_WEIGHT, eigenvoice_relevance=ubm.EIGENVOICE_RELEVANCE)
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
    assert digest == pipeline.VOICEPRINT_RECIPE_SHA256, (
        "a setting that shapes voiceprints changed: bump MODEL_VERSION (stored voiceprints are then recomputed "
        f"from the kept audio) and set VOICEPRINT_RECIPE_SHA256 = {digest!r}")


def test_warm_up_derives_what_the_first_request_would_otherwise_wait_for():
    code = ("from mock_server import pipeline; from mock_server.pipeline import ubm; pipeline.warm_up(); "
            "m = ubm.voice_model(); print('eigenvoices' in vars(m), pipeline.DEFAULT_CONFIG.relevance in m._tnorm)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.split() == ["True", "True"], done.stderr
