"""Audio in: bytes (from base64 content or a url) to mono float32 samples at the pipeline's rate.

Containers (WAV, FLAC, MP3, OGG) are recognised from the bytes themselves by libsndfile, so a container's own
header wins over a disagreeing ``sampleRate``; only headerless ``LINEAR16`` needs ``sampleRate``.
"""
from __future__ import annotations

import base64
import binascii
import http.client
import io
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import numpy as np
import soundfile
import soxr

from mock_server.core import errors

CONTAINER_ENCODINGS = ("WAV", "FLAC", "MP3", "OGG")
RAW_ENCODING = "LINEAR16"
SUPPORTED_ENCODINGS = CONTAINER_ENCODINGS + (RAW_ENCODING,)
# webrtcvad and sane audio both live in this range; a LINEAR16 rate outside it is a caller's mistake.
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 4000, 384000


_STRICT_A2B = sys.version_info >= (3, 11)  # binascii.a2b_base64(strict_mode=...) is new in 3.11


def normalise_encoding(encoding: str | None) -> str | None:
    """Upper-case and check an ``encoding`` field; None means "detect from the bytes"."""
    if encoding is None:
        return None
    name = encoding.strip().upper()
    aliases = {"WAVE": "WAV", "OGG_VORBIS": "OGG", "OGG_OPUS": "OGG", "MPEG": "MP3", "PCM": "LINEAR16",
               "RAW": "LINEAR16"}
    name = aliases.get(name, name)
    if name not in SUPPORTED_ENCODINGS:
        raise errors.UnsupportedEncoding(
            f"encoding {encoding!r} is not supported; use one of {', '.join(SUPPORTED_ENCODINGS)}.")
    return name


def decode_base64(content: str) -> bytes:
    """Strict base64 (standard or url-safe alphabet, padding optional) to bytes."""
    if _STRICT_A2B:
        # What clients send almost always: one unbroken, padded, standard-alphabet string. Decoded in one pass,
        # it skips the copies and the validating regex below (~40% of the time for a multi-MB clip);
        # anything else falls through to the tolerant path.
        try:
            data = binascii.a2b_base64(content, strict_mode=True)
        except (binascii.Error, ValueError):
            data = b""
        if data:
            return data
    text = "".join(content.split())
    if text.startswith("data:") and "," in text:  # tolerate data URLs pasted from browsers
        text = text.split(",", 1)[1]
    text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidBase64(
            "content is not valid base64; send the audio file's bytes base64-encoded "
            "(e.g. `base64 -w0 file.wav`).") from None
    if not data:
        raise errors.EmptyAudio("content is empty; send the base64 of a non-empty audio file.")
    return data


def check_http_url(url: str, *, field: str) -> str:
    """Accept only absolute http(s) urls with a host."""
    try:
        # urlsplit quietly strips leading controls and spaces ("\x00http://..."); refuse them instead.
        parts = None if any(ord(c) <= 32 or ord(c) == 127 for c in url) else urllib.parse.urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise errors.InvalidUrl(f"{field} must be an absolute http:// or https:// url, got {url[:200]!r}.")
    return url


def fetch_url(url: str, *, timeout: float, max_bytes: int) -> bytes:
    """Download an audio url within a time budget (``timeout`` seconds for the whole transfer) and a size cap.

    Redirects are followed only to other http(s) urls.
    """
    check_http_url(url, field="url")
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"User-Agent": "speaker-id-mock"})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise errors.PayloadTooLarge(
                    f"the audio at url is {int(declared)} bytes; the limit is {max_bytes} (--url-max-mb).")
            chunks, size = [], 0
            while size <= max_bytes:
                # Each read waits at most ``timeout`` (the socket's); the loop checks the whole transfer's budget.
                if time.monotonic() > deadline:
                    raise errors.UrlFetchFailed(f"downloading url took longer than {timeout:g} s (--url-timeout); "
                                                "serve the audio faster or send it as content.")
                chunk = response.read1(min(65536, max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            data = b"".join(chunks)
    except errors.ApiError:
        raise
    except urllib.error.HTTPError as exc:
        raise errors.UrlFetchFailed(f"downloading url failed with HTTP {exc.code}; check the url is "
                                    "reachable without authentication.") from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        raise errors.UrlFetchFailed(f"downloading url failed ({reason}); check the url is reachable from the "
                                    "mock server within the timeout.") from None
    if len(data) > max_bytes:
        raise errors.PayloadTooLarge(f"the audio at url exceeds {max_bytes} bytes (--url-max-mb).")
    if not data:
        raise errors.EmptyAudio("the url answered with an empty body; point it at an audio file.")
    return data


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s): urllib alone would also follow one to ftp://."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_http_url(newurl, field="url (after a redirect)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpOnlyRedirects)


def decode_audio(data: bytes, *, encoding: str | None, sample_rate: int | None, target_rate: int,
                 max_seconds: float) -> np.ndarray:
    """Decode audio bytes to mono float32 in [-1, 1] at ``target_rate``.

    Returns samples: np.ndarray [shape=(n,), dtype=float32]. NaN/inf samples become 0; stereo and
    multichannel audio is averaged to mono.
    """
    if encoding == RAW_ENCODING:
        samples, rate = _decode_linear16(data, sample_rate, max_seconds)
        from_pcm16 = True
    else:
        samples, rate, from_pcm16 = _decode_container(data, encoding, max_seconds)
    if samples.size == 0:
        raise errors.EmptyAudio("the audio holds no samples; send a recording with sound in it.")
    # 16-bit PCM scaled by 1/32768 is finite and inside [-1, 1) already: both passes below are for float sources
    # and resampling overshoot.
    if not from_pcm16 and not np.isfinite(samples).all():  # the check is a fraction of nan_to_num's cost
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    if rate != target_rate:
        samples = soxr.resample(samples, rate, target_rate, quality="HQ").astype(np.float32, copy=False)
    if rate != target_rate or not from_pcm16:
        np.clip(samples, -1.0, 1.0, out=samples)  # float WAVs may exceed full scale; resampling may overshoot
    return np.ascontiguousarray(samples, dtype=np.float32)


def _check_duration(frames: int, rate: int, max_seconds: float) -> None:
    if frames / rate > max_seconds:
        raise errors.AudioTooLong(f"the audio lasts {frames / rate:.0f} s; the limit is {max_seconds:.0f} s "
                                  "(--max-audio-seconds). Split it into shorter clips.")


def _decode_linear16(data: bytes, sample_rate: int | None, max_seconds: float) -> tuple[np.ndarray, int]:
    if sample_rate is None:
        raise errors.MissingParameter("sampleRate is required with encoding LINEAR16 (headerless 16-bit PCM); "
                                      "send the rate the audio was recorded at, e.g. 16000.")
    _check_rate(sample_rate)
    if len(data) % 2:
        data = data[:-1]  # a trailing odd byte is half a sample; drop it rather than refuse the clip
    _check_duration(len(data) // 2, sample_rate, max_seconds)
    pcm = np.frombuffer(data, dtype="<i2")
    return pcm.astype(np.float32) / 32768.0, sample_rate


def _check_rate(sample_rate: int) -> None:
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise errors.InvalidParameter(f"sampleRate {sample_rate} is out of range; use a rate between "
                                      f"{MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} Hz.")


def _decode_container(data: bytes, encoding: str | None, max_seconds: float) -> tuple[np.ndarray, int, bool]:
    """(mono float32 samples, rate, whether they came from 16-bit PCM)."""
    hint = f" as {encoding}" if encoding else ""
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as f:
            rate = f.samplerate
            if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
                raise errors.UndecodableAudio(f"the audio header says {rate} Hz, outside "
                                              f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz.")
            if 0 < f.frames < 2**62:  # libsndfile reports a huge count when it cannot tell (some MP3/OGG)
                _check_duration(f.frames, rate, max_seconds)
            # 16-bit PCM (most WAV and FLAC) is read as integers and scaled here: the same numbers as libsndfile's
            # float conversion (a power-of-two scale is exact), several times cheaper for WAV.
            pcm16 = f.subtype == "PCM_16"
            # Read in blocks and stop past the limit: a file whose header understates (or omits) its length
            # cannot make us decode hours of audio into memory. A length the header states within the limit is
            # read at once (no block copies); the loop then only checks that nothing follows.
            limit = int(max_seconds * rate) + 1
            block = f.frames if 0 < f.frames <= limit else rate * 60
            blocks, frames = [], 0
            while frames <= limit:
                part = f.read(min(block, limit + 1 - frames), dtype="int16" if pcm16 else "float32",
                              always_2d=True)
                if not len(part):
                    break
                blocks.append(_mono(part, pcm16))
                frames += len(part)
                block = rate * 60
    except errors.ApiError:
        raise
    except Exception as exc:  # libsndfile raises LibsndfileError/RuntimeError/TypeError on junk
        raise errors.UndecodableAudio(
            f"the audio could not be decoded{hint} ({_short(exc)}); send WAV, FLAC, MP3 or OGG bytes, or raw "
            "16-bit little-endian PCM with encoding LINEAR16 and its sampleRate.") from None
    _check_duration(frames, rate, max_seconds)
    if len(blocks) == 1:
        return blocks[0], rate, pcm16
    samples = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
    return samples, rate, pcm16


def _mono(part: np.ndarray, pcm16: bool) -> np.ndarray:
    """A (frames, channels) block from libsndfile as mono float32, channels averaged."""
    if pcm16:
        part = np.multiply(part, np.float32(1.0 / 32768.0), dtype=np.float32)  # one pass: exact int -> float
    if part.shape[1] > 1:
        return part.mean(axis=1, dtype=np.float32)
    return part[:, 0]


def _short(exc: Exception) -> str:
    """libsndfile's reason, without the object address it names (answers must be deterministic)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^Error opening <[^>]*>: ", "", text).rstrip(".")
    return text[:160]


def encode_pcm16(samples: np.ndarray) -> bytes:
    """Float samples to 16-bit PCM bytes: how enrollment audio is kept so voiceprints can be recomputed."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def decode_pcm16(data: bytes) -> np.ndarray:
    """The inverse of encode_pcm16."""
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


@dataclass(frozen=True)
class AudioSource:
    """Where a request's audio comes from: exactly one of ``content`` (decoded base64) and ``url``."""

    content: bytes | None
    url: str | None = None
    encoding: str | None = None
    sample_rate: int | None = None
