"""Audio bytes to mono float32 samples at the pipeline's rate, whatever the container, label and sampleRate.

Which reader, in order:
1. a strong container signature (sniff.py) always wins: a WAV labelled ``LINEAR16`` at 16000, or ``MULAW`` at 8000
   (the vendor's Node SDK labels every ``.wav`` so), is read as the WAV it is, at its header's rate (a
   ``sampleRate`` outside MIN_SAMPLE_RATE..MAX_SAMPLE_RATE is ignored too, with a log line);
2. otherwise a headerless label (LINEAR16, MULAW, ALAW, raw PCM: labels.py) decides, with ``sampleRate``, which
   must then be in MIN_SAMPLE_RATE..MAX_SAMPLE_RATE (reads_as_headerless tells this case);
3. otherwise the bytes are probed: libsndfile first for the containers it reads faster (sndfile.py), FFmpeg for
   everything else, for what libsndfile fails on, and for what it reads no or implausibly few samples from: a
   WAV whose header sizes were never filled in (a recorder writing to a pipe or killed mid-write leaves the
   ``data`` size 0, which libsndfile takes literally and FFmpeg as "up to the end") (ffmpeg.py). Bytes with no
   signature sniff.py knows are offered only to FFmpeg's demuxers for formats that name themselves
   (ffmpeg.WITHOUT_SIGNATURE): its other probes take two matching bytes for a game-audio format and turned
   about 1 in 500 pieces of raw PCM sent without an encoding into noise that enrolled as a voice.
Every failure is a 400 naming what was seen (sniff.describe); too long is a 413 (limits.py).
"""
from __future__ import annotations

import logging

import numpy as np
import soxr

from mock_server import errors

from . import limits as limits_module
from . import sniff
from .ffmpeg import NotOpened, decode_ffmpeg
from .labels import HEADERLESS_HINT, SUPPORTED_ENCODINGS, is_known, raw_format
from .limits import DecodeLimits
from .pcm import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, bounded, decode_headerless, rate_in_range, shown_rate
from .sndfile import SndfileAudio, SndfileFailed, decode_sndfile

# Bytes a file may carry besides its samples (header, LIST/bext/iXML chunks, a small picture) before the samples
# libsndfile read are "implausibly few" for them; past it, and past half the file, FFmpeg is asked too.
HEADER_SLACK_BYTES = 65536

log = logging.getLogger(__name__)


def decode_audio(data: bytes, *, encoding: str | None, sample_rate: int | None, target_rate: int,
                 max_seconds: float, max_samples: int | None = None) -> np.ndarray:
    """Decode audio bytes to mono float32 in [-1, 1] at ``target_rate`` Hz.

    ``encoding``: a label from labels.normalise_encoding (None: detect). ``sample_rate``: Hz, used (and checked)
    for headerless data only; otherwise ignored, whatever its value. ``max_seconds``: --max-audio-seconds.
    ``max_samples``: decoded samples (frames x channels) allowed, default limits.MAX_DECODED_SAMPLES.
    Returns samples: np.ndarray [shape=(n,), dtype=float32], C-contiguous. NaN/inf samples become 0; multichannel
    audio is averaged to mono.
    Raises errors.UndecodableAudio / UnsupportedEncoding / MissingParameter / InvalidParameter / EmptyAudio (400),
    errors.AudioTooLong (413).
    """
    limits = DecodeLimits(max_seconds, limits_module.MAX_DECODED_SAMPLES if max_samples is None else max_samples)
    header = sniff.container(data)
    raw = raw_format(encoding)
    if header is None and raw is not None:  # reads_as_headerless
        if sniff.is_text(data):  # text read as samples is noise, and noise can pass for a voice
            raise errors.UndecodableAudio(f"the audio is {sniff.describe(data)}, not {raw.name} samples: send the "
                                          "recording's bytes (a url that answered with a page instead of audio?).")
        samples, rate, from_pcm16 = decode_headerless(data, raw, sample_rate, limits)
    else:
        if sample_rate is not None and not rate_in_range(sample_rate):
            log.info("sampleRate %s (outside %d-%d Hz) ignored: %s", shown_rate(sample_rate), MIN_SAMPLE_RATE,
                     MAX_SAMPLE_RATE, f"the {header} header gives the audio's rate" if header else
                     "the audio is not headerless samples; FFmpeg reads its rate")
        samples, rate, from_pcm16 = _decode_container(data, encoding, header, limits, target_rate)
    if samples.size == 0:
        raise errors.EmptyAudio(f"the audio holds no samples ({sniff.describe(data)}); send a recording with sound "
                                "in it.")
    # 16-bit PCM scaled by 1/32768 is finite and inside [-1, 1) already; float sources may hold anything, and
    # resampling may overshoot.
    if not from_pcm16:
        samples = bounded(samples)
    if rate != target_rate:
        samples = soxr.resample(samples, rate, target_rate, quality="HQ").astype(np.float32, copy=False)
        np.clip(samples, -1.0, 1.0, out=samples)
    return np.ascontiguousarray(samples, dtype=np.float32)


def headerless_width(data: bytes, encoding: str | None) -> int | None:
    """Bytes per sample when decode_audio would read ``data`` as headerless samples (reads_as_headerless), else
    None: a stream cut into pieces at any byte carries a partial last sample into the next piece."""
    fmt = raw_format(encoding)
    return fmt.width if fmt is not None and sniff.container(data) is None else None


def partial_sample_at_end(data: bytes, encoding: str | None) -> int:
    """Bytes at the end of ``data`` that start a headerless sample of the ``encoding`` label's width which the
    next piece of a stream completes: a client may cut a WAV file into pieces at any byte and label them all
    LINEAR16, so the first piece (the header, then samples) may end inside a sample. 0 when ``data`` is no WAV
    whose samples go on past its end, or the label is not headerless."""
    width = headerless_width(b"", encoding)
    chunk = sniff.wav_data_chunk(data) if width else None
    # the samples end inside these bytes, unless the size is 0: never filled in, read up to the end (_past_the_header)
    if chunk is None or 0 < chunk[1] <= len(data) - chunk[0]:
        return 0
    return (len(data) - chunk[0]) % width


def reads_as_headerless(data: bytes, encoding: str | None) -> bool:
    """Whether decode_audio reads ``data`` as headerless samples (no container signature, a headerless label):
    the one case where ``sampleRate`` is used, so the one where it must be in range."""
    return headerless_width(data, encoding) is not None


def _decode_container(data: bytes, encoding: str | None, header: str | None, limits: DecodeLimits,
                      target_rate: int) -> tuple[np.ndarray, int, bool]:
    """(samples, their rate, whether 16-bit PCM) from bytes that should carry their own format."""
    guess = header or sniff.frame_sync(data)
    seen = sniff.describe(data)
    if guess in sniff.SNDFILE_CONTAINERS:
        try:
            read = decode_sndfile(data, limits, target_rate)
        except SndfileFailed:
            pass  # FFmpeg reads more (and says why when it cannot either)
        else:
            if read.samples.size and read.unexplained <= max(HEADER_SLACK_BYTES, len(data) // 2):
                return read.samples, read.rate, read.pcm16
            return _past_the_header(data, read, header, limits, target_rate, seen)
    try:
        return decode_ffmpeg(data, limits, target_rate, seen=seen, signed=header is not None), target_rate, False
    except errors.UndecodableAudio as exc:
        if header is not None or not isinstance(exc, NotOpened):
            raise  # a container's own failure: a hint about headerless labels would mislead
        if encoding is not None and not is_known(encoding):
            raise errors.UnsupportedEncoding(
                f"{exc.message} The encoding {encoding!r} names no format this server knows: for headerless "
                f"samples send encoding {HEADERLESS_HINT} with their sampleRate; for a file, any of "
                f"{', '.join(SUPPORTED_ENCODINGS[:11])} (or no encoding at all).") from None
        hint = (f" They were labelled {encoding}." if encoding is not None else
                f" If they are headerless samples, send encoding {HEADERLESS_HINT} with their sampleRate.")
        raise errors.UndecodableAudio(exc.message + hint) from None


def _past_the_header(data: bytes, read: SndfileAudio, header: str | None, limits: DecodeLimits, target_rate: int,
                     seen: str) -> tuple[np.ndarray, int, bool]:
    """FFmpeg's samples for bytes libsndfile read no or implausibly few samples from, when it finds more (a WAV
    whose ``data`` size is 0); libsndfile's own otherwise (a short clip with a large metadata chunk after it).

    Raises errors.UndecodableAudio when neither found a sample although the bytes hold far more than their
    container's header (``header``: sniff.container's name): "the audio holds no samples" (empty_audio) would be
    false.
    """
    failure = False
    try:
        samples = decode_ffmpeg(data, limits, target_rate, seen=seen, signed=header is not None)
    except errors.UndecodableAudio:
        samples, failure = np.zeros(0, dtype=np.float32), True
    if samples.size / target_rate > read.samples.size / read.rate + 0.01:  # at least 10 ms more
        return samples, target_rate, False
    if header is not None and not read.samples.size and (failure or read.unexplained > HEADER_SLACK_BYTES):
        raise errors.UndecodableAudio(
            f"the audio could not be decoded: {seen} hold far more than a header, but the header's sizes "
            "account for no samples and FFmpeg read none past them either. Fill in the header's data size "
            "(0xFFFFFFFF means up to the end of the file) or send the file as its recorder finished it.")
    return read.samples, read.rate, read.pcm16
