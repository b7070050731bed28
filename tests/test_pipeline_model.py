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


def test_the_eigenvoice_axes_are_orthogonal_and_ordered_by_spread():
    from mock_server.pipeline import ubm
    mean, v, vv = ubm.voice_model().eigenvoices
    axes = v.reshape(-1, v.shape[2]).astype(np.float64)               # (C * D, K)
    gram = axes.T @ axes
    spread = np.diag(gram)
    assert v.shape[2] == ubm.EIGENVOICES and (np.diff(spread) <= 1e-6 * spread[0]).all()
    assert np.allclose(gram - np.diag(spread), 0.0, atol=1e-3 * spread[0])
    assert np.allclose(vv.sum(axis=0), gram, rtol=1e-3, atol=1e-3 * spread[0])


def test_speaker_offsets_go_from_the_prior_without_speech_to_the_speech_itself_with_plenty():
    from mock_server.pipeline import DEFAULT_CONFIG, ubm
    model = ubm.voice_model()
    mean, _, _ = model.eigenvoices
    c, d, r = model.components, model.dim, DEFAULT_CONFIG.relevance
    silent = model.map_offsets(np.zeros(c, np.float32), np.zeros((c, d), np.float32), r)
    assert np.allclose(silent, ubm.EIGENVOICE_WEIGHT * mean, atol=1e-5)   # the subspace's prior; plain MAP: 0
    rng = np.random.default_rng(0)
    target = rng.normal(0.0, 0.5, (c, d)).astype(np.float32)
    n = np.full(c, 1e6, np.float32)
    plenty = model.map_offsets(n, n[:, None] * target, r)
    assert np.allclose(plenty, target, atol=1e-3)                      # the data outweighs every prior
    # a few frames move the offsets part of the way, in the data's direction
    few = model.map_offsets(np.full(c, 2.0, np.float32), 2.0 * target, r)
    assert 0.0 < np.sum(few * target) / np.sum(target * target) < 1.0
