"""Test media made from the committed espeak-ng fixtures with FFmpeg's own encoders (PyAV), as phones, browsers
and telephony send them: M4A/AAC, MP4, WebM/Opus, MP3 with an ID3 tag, raw G.711, WAVs of every sample format."""
from __future__ import annotations

import io

import av
import numpy as np
import soundfile
from av.audio.resampler import AudioResampler
from conftest import fixture_bytes


def speech(name: str = "conversation.wav") -> tuple[np.ndarray, int]:
    """A fixture's samples as written (float32 [shape=(n,)] or [shape=(n, channels)]) and its rate."""
    samples, rate = soundfile.read(io.BytesIO(fixture_bytes(name)), dtype="float32")
    return samples, rate


def encode(samples: np.ndarray, rate: int, *, container: str, codec: str, out_rate: int | None = None,
           layout: str = "mono", options: dict | None = None) -> bytes:
    """Encode mono float32 samples with FFmpeg: ``container`` a muxer name (ipod = M4A, mp4, webm, ogg, adts,
    mp3, wav, mulaw, alaw...), ``codec`` an encoder (aac, libopus, libmp3lame, pcm_mulaw...), at ``out_rate`` Hz
    (default ``rate``) and channel ``layout`` (stereo duplicates the mono signal)."""
    out_rate = out_rate or rate
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as output:
        stream = output.add_stream(codec, rate=out_rate, layout=layout)
        if options:
            stream.options = options
        pcm = np.clip(samples, -1, 1).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(pcm, format="flt", layout="mono")
        frame.sample_rate = rate
        resampler = AudioResampler(format=stream.codec_context.codec.audio_formats[0].name, layout=layout,
                                   rate=out_rate, frame_size=stream.codec_context.frame_size or 1024)
        for converted in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(converted):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return buffer.getvalue()


def decode_g711_with_ffmpeg(data: bytes, law: str, rate: int) -> np.ndarray:
    """G.711 bytes decoded by FFmpeg's own ``mulaw``/``alaw`` demuxer and decoder (to 16-bit), as float64 / 32768."""
    with av.open(io.BytesIO(data), format=law, options={"sample_rate": str(rate), "ch_layout": "mono"}) as c:
        frames = [f.to_ndarray().reshape(-1) for f in c.decode(audio=0)]
    return np.concatenate(frames).astype(np.float64) / 32768.0


def id3_tag_then_zeros(mp3: bytes, padding: int = 4096) -> bytes:
    """An ID3v2.3 tag (one TIT2 frame) followed by ``padding`` zero bytes *outside* the tag, then the MP3 frames:
    written so by some taggers; players play it, libsndfile does not open it."""
    frame = b"TIT2" + (5).to_bytes(4, "big") + b"\x00\x00" + b"\x03test"
    size = len(frame)
    synchsafe = bytes([(size >> 21) & 127, (size >> 14) & 127, (size >> 7) & 127, size & 127])
    return b"ID3\x03\x00\x00" + synchsafe + frame + b"\x00" * padding + mp3
