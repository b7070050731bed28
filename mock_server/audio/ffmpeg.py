"""The FFmpeg path (PyAV): every container and codec FFmpeg reads, recognised from the bytes by FFmpeg's probes.

M4A/MP4 (AAC, ALAC), WebM/Matroska (Opus, Vorbis), ADTS AAC, AMR, WMA, AC-3, WavPack, ... and what libsndfile
gives up on (an MP3 with zero padding after its ID3 tag, a WAV holding MP3 or G.722). The vendor's 2020 concepts
page: "all audio types ffmpeg supports".

Bounded like the libsndfile path: decoding stops at --max-audio-seconds or the decoded-sample cap (limits.py),
counted from what the decoder produced, never from what a header claims; each decoded block is mixed to mono and
resampled to the pipeline's rate as it comes, so memory is the output's size, not the source's.
"""
from __future__ import annotations

import ctypes
import io
import logging
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soxr

from mock_server import errors

from .limits import DecodeLimits
from .pcm import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

if TYPE_CHECKING:
    import av
# PyAV itself is imported on first use: it costs ~0.3 s, paid by every worker process at start-up otherwise
# (with --processes, a worker still importing serves nothing while its siblings take every request).

# Demuxers a request may not reach: ones that open other files or urls named inside the data (playlists,
# concat lists, SDP/RTSP: a way to make the server read local files or call internal hosts), devices, and image
# sequences. FFmpeg's ``format_whitelist`` is checked after probing, before the demuxer reads its header.
_DENIED = {"hls", "dash", "concat", "imf", "sdp", "rtp", "rtsp", "image2", "image2pipe", "lavfi", "alsa", "oss",
           "fbdev", "kmsgrab", "video4linux2", "v4l2", "x11grab", "webm_dash_manifest", "ffmetadata", "tee",
           "libcdio", "pulse", "jack", "openal", "avfoundation", "dshow", "gdigrab", "vfwcap", "android_camera"}
# Demuxers offered bytes that carry no signature sniff.py knows: formats that name themselves, with a sync word or
# magic their probe checks (AVI, AC-3/E-AC-3, DTS, MPEG-TS, LATM, TrueHD, a QuickTime file opening with a 'free'
# or 'wide' atom, an MP3 or ADTS stream after junk, ...). FFmpeg's other probes accept weak matches: ea_cdata's
# looks at two bytes, adp's and others' score at most 25 of 100 ("misdetection possible"), and raw 16-bit PCM
# or mu-law sent without an encoding came out as seconds of decoded noise (6-8 of 4000 random pieces of speech).
WITHOUT_SIGNATURE = frozenset({
    "avi", "ac3", "eac3", "ac4", "dts", "dtshd", "truehd", "mlp", "loas", "mpegts", "mpeg", "mp3", "aac", "mov",
    "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "ogg", "asf", "flac", "wav", "w64", "aiff", "au", "caf",
    "amr", "amrnb", "amrwb", "wv", "ape", "tta", "tak", "shn", "mpc", "mpc8", "flv", "nistsphere", "voc", "rm",
    "dsf", "iff", "sox", "ircam", "nut", "spdif", "mxf", "codec2", "qoa",
    # with a magic of their own, as FFmpeg's probes check it: iLBC (RFC 3952 "#!iLBC"), SMAF ("MMMD"), voice modem
    # PVF, Psion WVE, AVR ("2BIT"), HCOM, KVAG, Qualcomm QCP (RIFF QLCM), xWMA, Olympus DSS, Audible AA, ADX, APM,
    # Argonaut ASF, MIDI sample dump (SDS), Westwood AUD
    "ilbc", "mmf", "pvf", "wve", "avr", "hcom", "kvag", "qcp", "xwma", "dss", "aa", "adx", "apm", "argo_asf", "sds",
    "wsaud"})
# FFmpeg allocates what a header claims before it reads it: a 72-byte WAV whose LIST chunk's INFO entry claims
# 2 GB made the RIFF INFO reader allocate and zero 2 GB per request (seconds of CPU; a few at once and the kernel
# kills the server). FFmpeg's own cap is INT_MAX per allocation; real audio needs far less than this one (its
# buffers are frames and packets; a large cover picture in a tag is a few MB).
MAX_FFMPEG_ALLOCATION_BYTES = 64 * 2**20
log = logging.getLogger(__name__)
_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2.0**31, "s64": 2.0**63, "flt": 1.0, "dbl": 1.0}
_allowed: str | None = None
_allowed_unsigned: str | None = None
MAX_BAD_PACKETS = 1000  # corrupt packets skipped before the rest of a stream is taken for garbage


class NotOpened(errors.UndecodableAudio):
    """FFmpeg recognised no format in the bytes (as opposed to a format whose data then failed to decode)."""


@lru_cache(maxsize=1)
def _pyav():
    """PyAV, imported on first use, with FFmpeg's allocations capped at MAX_FFMPEG_ALLOCATION_BYTES."""
    import av
    _cap_ffmpeg_allocations(av, MAX_FFMPEG_ALLOCATION_BYTES)
    return av


def _cap_ffmpeg_allocations(av, max_bytes: int) -> None:
    """Call libavutil's av_max_alloc (libavutil/mem.h) in the copy of libavutil PyAV loaded: the one mapped into
    this process (Linux), else the one its wheel bundles. Logged, not raised, where none is found."""
    found: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            found = sorted({line.split()[-1] for line in maps if "libavutil" in line and "/" in line})
    except OSError:
        pass
    if not found:
        package = Path(av.__file__).resolve().parent
        found = [str(p) for folder in (package.parent / "av.libs", package / ".dylibs")
                 for p in sorted(folder.glob("libavutil*"))]
    for path in found:
        try:
            ctypes.CDLL(path).av_max_alloc(ctypes.c_size_t(max_bytes))
            return
        except (OSError, AttributeError):
            continue
    log.warning("FFmpeg's allocation cap could not be set (no libavutil found beside PyAV): a crafted file can "
                "make one request allocate up to 2 GB")


def _allowed_demuxers() -> str:
    """FFmpeg's input formats minus _DENIED, comma-separated, as ``format_whitelist`` takes them."""
    global _allowed
    if _allowed is None:
        av = _pyav()
        names = set()
        for name in av.formats_available:
            try:
                if not av.format.ContainerFormat(name, "r").is_input:
                    continue
            except ValueError:
                continue
            parts = set(name.split(","))
            if not parts & _DENIED and not any(p.endswith("_pipe") for p in parts):
                names |= parts
        _allowed = ",".join(sorted(names))
    return _allowed


def _allowed_without_signature() -> str:
    """_allowed_demuxers() limited to WITHOUT_SIGNATURE, as ``format_whitelist`` takes them."""
    global _allowed_unsigned
    if _allowed_unsigned is None:
        _allowed_unsigned = ",".join(n for n in _allowed_demuxers().split(",") if n in WITHOUT_SIGNATURE)
    return _allowed_unsigned


def decode_ffmpeg(data: bytes, limits: DecodeLimits, target_rate: int, *, seen: str,
                  signed: bool = True) -> np.ndarray:
    """Decode any container FFmpeg reads to mono float32 at ``target_rate`` (not yet clipped to [-1, 1]).

    ``seen``: the bytes as sniff.describe tells them, for messages. ``signed``: whether sniff.container found a
    signature; without one only the WITHOUT_SIGNATURE demuxers are tried. Raises errors.UndecodableAudio (400) with
    FFmpeg's reason when nothing decodes, errors.AudioTooLong (413) past a limit. A corrupt packet after good
    ones ends the stream there, as players do.
    """
    av = _pyav()
    try:
        allowed = _allowed_demuxers() if signed else _allowed_without_signature()
        container = av.open(io.BytesIO(data), mode="r", options={"format_whitelist": allowed})
    except av.ArgumentError:
        if not signed:  # the probe's pick was one of the weak ones: these bytes name no format
            raise NotOpened(f"the audio could not be decoded: {seen} carry no audio format's signature, and "
                            "FFmpeg recognised no format that names itself in them.") from None
        raise errors.UndecodableAudio(
            f"the audio could not be decoded: FFmpeg recognised {seen} as a format this server does not read "
            "from requests (playlists, image sequences, devices); send an audio file.") from None
    except Exception as exc:  # InvalidDataError for unknown bytes; others for truncated headers
        raise NotOpened(f"the audio could not be decoded: FFmpeg could not open {seen} as any format it reads "
                        f"({_reason(exc)}).") from None
    with container:
        kind = container.format.long_name or container.format.name
        if not container.streams.audio:
            raise errors.UndecodableAudio(f"the audio could not be decoded: FFmpeg read {seen} as {kind} but it "
                                          "holds no audio stream.")
        stream = container.streams.audio[0]
        mixer = _MonoResampler(limits, target_rate)
        failure, bad_packets = None, 0
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.FFmpegError as exc:  # one corrupt packet: skip it, as players do
                    failure, bad_packets = exc, bad_packets + 1
                    if bad_packets > MAX_BAD_PACKETS:
                        break
                    continue
                for frame in frames:
                    if _consistent(frame):
                        mixer.add(frame)
                    else:   # as a corrupt packet: reading it would read memory it does not own
                        failure, bad_packets = ValueError("a decoded frame whose planes do not match its channel "
                                                          "layout"), bad_packets + 1
        except errors.ApiError:
            raise
        except Exception as exc:  # the demuxer gave up (a truncated file): keep what decoded before
            failure = exc
        samples = mixer.finish()
    if failure is not None and not samples.size:
        codec = stream.codec_context.name if stream.codec_context else "unknown codec"
        raise errors.UndecodableAudio(f"the audio could not be decoded: FFmpeg read {seen} as {kind} ({codec}) "
                                      f"but decoding failed ({_reason(failure)}).")
    return samples


def _consistent(frame: av.AudioFrame) -> bool:
    """Whether a decoded frame's planes are what its format and channel layout say: one per channel (planar) or
    one for all (packed), each holding its samples. A damaged AAC stream decodes to frames that say 7.1 and carry
    9 planes; PyAV's to_ndarray trusts the layout and crashed the process (SIGSEGV) on one."""
    channels = len(frame.layout.channels)
    planes = frame.planes
    if len(planes) != (channels if frame.format.is_planar else 1) or channels < 1:
        return False
    per_plane = frame.samples * frame.format.bytes * (1 if frame.format.is_planar else channels)
    return all(plane.buffer_size >= per_plane for plane in planes)


class _MonoResampler:
    """Collects decoded frames as mono float32 at ``target_rate``, enforcing the limits as they arrive.

    Frames (1024 samples for AAC, 20 ms for Opus) are gathered into blocks of about a second before they are
    mixed and resampled: per-frame numpy and soxr calls cost more than the decoding itself.
    """

    def __init__(self, limits: DecodeLimits, target_rate: int):
        self.limits = limits
        self.target_rate = target_rate
        self.out: list[np.ndarray] = []
        self.rate = 0                 # current source rate; a new one (chained Ogg, odd MP3s) restarts the stream
        self.seconds_before = 0.0     # audio decoded at earlier rates
        self.frames = 0               # frames decoded at the current rate
        self.samples = 0              # decoded samples (frames x channels), all rates
        self.stream: soxr.ResampleStream | None = None
        self.pending: list[np.ndarray] = []   # (channels, n) arrays of one sample format and channel count
        self.pending_kind: tuple[str, int] | None = None
        self.pending_frames = 0

    def add(self, frame: av.AudioFrame) -> None:
        rate, channels = frame.sample_rate, len(frame.layout.channels)
        if rate != self.rate:
            if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
                raise errors.UndecodableAudio(f"the audio stream says {rate} Hz, outside "
                                              f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz.")
            self._drain(last=True)
            self.seconds_before += self.frames / self.rate if self.rate else 0.0
            self.rate, self.frames = rate, 0
            self.stream = soxr.ResampleStream(rate, self.target_rate, 1, dtype="float32", quality="HQ") \
                if rate != self.target_rate else None
        self.frames += frame.samples
        self.samples += frame.samples * channels
        self.limits.check(int(self.seconds_before * rate) + self.frames, rate, 1, at_least=True)
        if self.samples > self.limits.max_samples:
            self.limits.check(self.samples // channels, rate, channels, at_least=True)
        kind = (frame.format.name, channels)
        if kind != self.pending_kind:
            self._drain(last=False)
            self.pending_kind = kind
        values = frame.to_ndarray()
        if not frame.format.is_planar:
            values = values.reshape(-1, channels).T  # packed: (1, frames x channels) interleaved
        self.pending.append(values)
        self.pending_frames += frame.samples
        if self.pending_frames >= rate:
            self._drain(last=False)

    def _drain(self, *, last: bool) -> None:
        """Mix, clean and resample what is pending; ``last`` also flushes the resampler (end or rate change)."""
        if self.pending:
            values = self.pending[0] if len(self.pending) == 1 else np.concatenate(self.pending, axis=1)
            mono = _to_mono(values, self.pending_kind[0])
            if self.stream is not None:
                mono = self.stream.resample_chunk(mono, last=False)
            if mono.size:
                self.out.append(mono)
            self.pending, self.pending_frames = [], 0
        if last and self.stream is not None:
            tail = self.stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            if tail.size:
                self.out.append(tail)
            self.stream = None

    def finish(self) -> np.ndarray:
        self._drain(last=True)
        if not self.out:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self.out).astype(np.float32, copy=False)


def _to_mono(values: np.ndarray, sample_format: str) -> np.ndarray:
    """Decoded samples [shape=(channels, n)] in an FFmpeg sample format (s16, fltp, u8, ...) as mono float32
    [shape=(n,)]: integers scaled to [-1, 1), channels averaged, NaN/inf (float codecs, float PCM) zeroed before
    they can spread through the resampler."""
    name = sample_format.rstrip("p")
    values = values.astype(np.float32, copy=False)
    if name == "u8":
        values = values - np.float32(128.0)
    if _SCALE.get(name, 1.0) != 1.0:
        values = values * np.float32(1.0 / _SCALE[name])
    mono = values.mean(axis=0, dtype=np.float32) if values.shape[0] > 1 else np.array(values[0], dtype=np.float32)
    if not np.isfinite(mono).all():
        mono = np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0)
    return mono


def _reason(exc: Exception) -> str:
    """FFmpeg's reason without PyAV's "'<none>'" file-name suffix (answers must be deterministic)."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).strip().rstrip(".")[:160]
