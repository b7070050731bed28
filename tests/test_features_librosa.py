"""The numpy MFCC (mock_server.pipeline.features) reproduces librosa numerically.

This test is the only place that imports librosa: the runtime must not (cold start).
librosa.feature.mfcc JIT-compiles on first use, so this module takes ~30 s once.
"""

import os

import numpy as np
import pytest

librosa = pytest.importorskip("librosa")
sf = pytest.importorskip("soundfile")

from mock_server.pipeline import DEFAULT_CONFIG as C  # noqa: E402
from mock_server.pipeline.features import dct_matrix, mel_filterbank, mfcc  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "fixtures", "speakers", "alice", "enroll1.wav")


@pytest.mark.parametrize("n_fft,n_mels,fmin,fmax", [
    (C.n_fft, C.n_mels, C.fmin, C.fmax), (512, 40, 0.0, 8000.0), (1024, 64, 20.0, 7600.0), (400, 23, 300.0, 3400.0)])
def test_mel_filterbank_matches_librosa(n_fft, n_mels, fmin, fmax):
    ours = mel_filterbank(16000, n_fft, n_mels, fmin, fmax)
    ref = librosa.filters.mel(sr=16000, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-7)


def test_dct_matrix_matches_scipy():
    from scipy.fft import dct
    x = np.random.default_rng(0).normal(size=(C.n_mels, 7))
    np.testing.assert_allclose(dct_matrix(C.n_mfcc, C.n_mels) @ x,
                               dct(x, type=2, norm="ortho", axis=0)[:C.n_mfcc], rtol=1e-4, atol=1e-4)


def _speech():
    if os.path.exists(FIXTURE):
        y, sr = sf.read(FIXTURE, dtype="float32")
        assert sr == 16000
        return y[: 3 * sr]
    # fall back to a harmonic-rich signal when the fixtures are absent (features only, not "speech")
    t = np.arange(3 * 16000) / 16000
    return (0.1 * np.sign(np.sin(2 * np.pi * 140 * t)) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


@pytest.mark.parametrize("top_db", [80.0, None])
def test_mfcc_matches_librosa(top_db):
    y = _speech()
    kw = dict(n_mfcc=C.n_mfcc, n_fft=C.n_fft, hop_length=C.hop_length, win_length=C.win_length,
              n_mels=C.n_mels, fmin=C.fmin, fmax=C.fmax)
    ours = mfcc(y, 16000, top_db=top_db, **kw)
    if top_db == 80.0:                      # librosa's default: straight from the waveform
        ref = librosa.feature.mfcc(y=y, sr=16000, **kw).T
    else:
        n_mfcc = kw.pop("n_mfcc")
        mel = librosa.feature.melspectrogram(y=y, sr=16000, **kw)
        ref = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=top_db), n_mfcc=n_mfcc).T
    assert ours.shape == ref.shape
    # float32 FFTs differ in the last bits; in dB that is far below a hundredth of a cepstral unit
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=2e-2)
    assert np.abs(ours - ref).mean() < 2e-3
