"""MFCC features in plain numpy, reproducing librosa.feature.mfcc.

librosa is not imported at runtime: its feature stack costs ~1.5 s to import and its numba
JIT ~25 s on first use, which would break the server's cold-start budget. The functions here
follow librosa 0.10/0.11 step by step (centered, zero-padded STFT with a periodic Hann window,
Slaney mel filterbank with Slaney area normalisation, power_to_db, orthonormal DCT-II);
tests/test_features_librosa.py proves they agree numerically.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .config import DEFAULT_CONFIG, PipelineConfig

# ---- mel scale (Slaney, as librosa with htk=False) ---------------------------------------
_F_SP = 200.0 / 3          # Hz per mel below 1 kHz (linear part)
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asanyarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    log_part = hz >= _MIN_LOG_HZ
    return np.where(log_part, _MIN_LOG_MEL + np.log(np.maximum(hz, 1e-12) / _MIN_LOG_HZ) / _LOGSTEP, mel)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asanyarray(mel, dtype=np.float64)
    hz = _F_SP * mel
    return np.where(mel >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL)), hz)


@lru_cache(maxsize=8)
def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular Slaney-normalised mel filters, shape (n_mels, 1 + n_fft // 2), float32.

    Same as librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).
    """
    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]      # equal area per filter
    out = weights.astype(np.float32)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=8)
def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II as a (n_out, n_in) matrix: dct(x, type=2, norm='ortho')[:n_out] = M @ x."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    m = np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))
    m[0] /= np.sqrt(2.0)
    out = m.astype(np.float32)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=1)
def _rfft():
    """scipy.fft.rfft when available (3-4x faster than numpy's for float32 frames), imported on
    first use so that importing the pipeline stays cheap; numpy.fft.rfft otherwise."""
    try:
        from scipy.fft import rfft
    except ImportError:  # pragma: no cover - scipy comes with librosa/soxr installs, but is optional here
        from numpy.fft import rfft
    return rfft


@lru_cache(maxsize=8)
def _window(win_length: int, n_fft: int) -> np.ndarray:
    """Periodic Hann window of win_length, zero-padded (centered) to n_fft, like librosa."""
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_length) / win_length)
    lpad = (n_fft - win_length) // 2
    w = np.pad(w, (lpad, n_fft - win_length - lpad)).astype(np.float32)
    w.setflags(write=False)
    return w


def _frame_view(y: np.ndarray, n_fft: int, hop_length: int, start: int, stop: int) -> np.ndarray:
    """Frames start..stop-1 of y as a read-only (n, n_fft) view; frame t is centered on sample t * hop_length,
    with zeros beyond the ends (librosa: center=True, pad_mode="constant"). Frames inside y are a view of y
    itself; only frames reaching past an end copy (and zero-pad) the samples they cover."""
    n_frames = max(0, stop - start)
    lo = start * hop_length - n_fft // 2                       # first sample of the first frame
    hi = lo + (n_frames - 1) * hop_length + n_fft if n_frames else lo
    if 0 <= lo and hi <= len(y) and y.flags.c_contiguous:
        buf = y[lo:hi]
    else:
        buf = np.zeros(max(0, hi - lo), dtype=np.float32)
        a, b = max(lo, 0), min(hi, len(y))
        if b > a:
            buf[a - lo:b - lo] = y[a:b]
    return np.lib.stride_tricks.as_strided(
        buf, shape=(n_frames, n_fft), strides=(buf.strides[0] * hop_length, buf.strides[0]), writeable=False)


def _windowed_frames(frames: np.ndarray, win_length: int, n_fft: int, out: np.ndarray) -> np.ndarray:
    """frames * window into ``out``, whose columns outside the window's span must already be zeros."""
    w0 = (n_fft - win_length) // 2
    np.multiply(frames[:, w0:w0 + win_length], _window(win_length, n_fft)[w0:w0 + win_length],
                out=out[:, w0:w0 + win_length])
    return out


def mel_spectrogram(y: np.ndarray, sr: int, *, n_fft: int, hop_length: int, win_length: int, n_mels: int,
                    fmin: float, fmax: float, block_frames: int = 256) -> np.ndarray:
    """Mel power spectrogram, shape (n_frames, n_mels) float32, computed block_frames at a time.

    Small blocks whose buffers are reused keep the working set in cache (2048-frame blocks made the
    whole function ~1.5x slower), and |STFT|^2 is only formed for the FFT bins inside the mel band
    (fewer than half of them with the default 100-3800 Hz at 16 kHz). Memory stays flat in the length of y.
    """
    fb = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    used = np.flatnonzero(fb.any(axis=0))                      # FFT bins inside the mel band
    lo_bin, hi_bin = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, fb.shape[1])
    fbt = np.ascontiguousarray(fb[:, lo_bin:hi_bin].T)
    y = np.asarray(y, dtype=np.float32)
    total = 1 + len(y) // hop_length
    out = np.empty((total, n_mels), dtype=np.float32)
    rfft = _rfft()
    windowed = np.zeros((min(block_frames, total), n_fft), dtype=np.float32)
    power = np.empty((len(windowed), hi_bin - lo_bin), dtype=np.float32)
    for start in range(0, total, block_frames):
        stop = min(start + block_frames, total)
        n = stop - start
        frames = _windowed_frames(_frame_view(y, n_fft, hop_length, start, stop), win_length, n_fft, windowed[:n])
        # the band's (re, im) pairs as float32, squared in place and summed: re^2 + im^2 in one pass each
        pairs = rfft(frames, axis=1).view(np.float32).reshape(n, -1, 2)[:, lo_bin:hi_bin]
        np.square(pairs, out=pairs)
        np.add(pairs[:, :, 0], pairs[:, :, 1], out=power[:n])
        np.matmul(power[:n], fbt, out=out[start:stop])
    return out


def power_to_db(s: np.ndarray, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    """10 log10(max(amin, s)), clipped to top_db below the global maximum (librosa, ref=1.0)."""
    log_spec = np.maximum(s, np.asarray(amin, dtype=s.dtype))
    np.log10(log_spec, out=log_spec)
    log_spec *= 10.0
    if top_db is not None and log_spec.size:
        np.maximum(log_spec, log_spec.max() - top_db, out=log_spec)
    return log_spec


def mfcc(y: np.ndarray, sr: int, *, n_mfcc: int, n_fft: int, hop_length: int, win_length: int,
         n_mels: int, fmin: float, fmax: float, top_db: float | None = 80.0) -> np.ndarray:
    """MFCCs, shape (n_frames, n_mfcc) float32 -- the transpose of librosa.feature.mfcc(...)."""
    mel = mel_spectrogram(y, sr, n_fft=n_fft, hop_length=hop_length, win_length=win_length, n_mels=n_mels,
                          fmin=fmin, fmax=fmax)
    return power_to_db(mel, top_db=top_db) @ dct_matrix(n_mfcc, n_mels).T


def deltas(x: np.ndarray, width: int) -> np.ndarray:
    """Regression deltas over +-width frames (edges repeated), shape like x."""
    if len(x) == 0:
        return x.copy()
    padded = np.pad(x, ((width, width), (0, 0)), mode="edge")
    n = len(x)
    num = sum(k * (padded[width + k:width + k + n] - padded[width - k:width - k + n]) for k in range(1, width + 1))
    return (num / (2.0 * sum(k * k for k in range(1, width + 1)))).astype(np.float32)


def sliding_cmn(x: np.ndarray, frames: int) -> np.ndarray:
    """Subtract a centered moving average of `frames` frames (cepstral mean normalisation)."""
    if frames <= 1 or len(x) == 0:
        return x
    c = np.cumsum(np.pad(x.astype(np.float64), ((1, 0), (0, 0))), axis=0)
    idx = np.arange(len(x))
    lo = np.clip(idx - frames // 2, 0, len(x))
    hi = np.clip(idx + frames // 2 + 1, 0, len(x))
    return (x - (c[hi] - c[lo]) / (hi - lo)[:, None]).astype(np.float32)


def speaker_features(samples: np.ndarray, config: PipelineConfig = DEFAULT_CONFIG) -> np.ndarray:
    """Per-frame speaker features, shape (n_frames, dim) float32, 100 frames/s by default.

    MFCC (c0 dropped: loudness says nothing about the voice) on a 100-3800 Hz mel band so
    telephone-band, MP3 and wide-band recordings of one voice look alike, plus deltas.
    """
    c = config
    m = mfcc(samples, c.sample_rate, n_mfcc=c.n_mfcc, n_fft=c.n_fft, hop_length=c.hop_length,
             win_length=c.win_length, n_mels=c.n_mels, fmin=c.fmin, fmax=c.fmax, top_db=c.top_db)
    if c.drop_c0:
        m = m[:, 1:]
    if c.cmn_window > 0:
        m = sliding_cmn(m, int(round(c.cmn_window * c.sample_rate / c.hop_length)))
    if c.use_deltas:
        m = np.concatenate([m, deltas(m, c.delta_width)], axis=1)
    return np.ascontiguousarray(m, dtype=np.float32)
