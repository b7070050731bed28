"""Decoding is bounded by what was decoded, never by what a header claims: --max-audio-seconds and the
decoded-sample cap hold for FFmpeg's formats, compressed silence cannot decode into gigabytes, and a tiny file
claiming hours costs what it holds. Memory is measured with tracemalloc (numpy's buffers are traced)."""
from __future__ import annotations

import base64
import io
import os
import struct
import tracemalloc

import numpy as np
import pytest
import soundfile
import soxr
from answers import error_of
from conftest import Api, fixture_speech
from media import encode
from test_audio_formats import media

from mock_server.audio import limits
from mock_server.core.config import ServerConfig
from mock_server.testing import LiveServer, http_json

MB = 2**20


@pytest.fixture
def limited(tmp_path, make_app):
    """An Api factory over a fresh app with the given ServerConfig settings."""
    made = []

    def make(**settings) -> Api:
        made.append(make_app(ServerConfig(data_dir=tmp_path / f"data{len(made)}", **settings)))
        return Api(made[-1].test_client(), key="k")
    return make


def _enroll(api: Api, data: bytes, **body):
    return api.client.post(api.url("sync/diarization/enroll"),
                           json={"content": base64.b64encode(data).decode(), "speakerId": "alice", **body})


def _peak_during(call):
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind,body", [("m4a", {}), ("webm", {}), ("mulaw", {"encoding": "MULAW", "sampleRate": 8000})])
def test_audio_longer_than_the_limit_gets_413_in_ffmpegs_formats_too(limited, kind, body):
    api = limited(max_audio_seconds=20.0)  # the conversation lasts 29 s
    response = _enroll(api, media(kind), **body)
    assert response.status_code == 413, response.get_json()
    error = error_of(response)
    assert error["code"] == "audio_too_long" and "--max-audio-seconds" in error["message"]


def test_the_decoded_sample_cap_stops_a_decoder(limited, monkeypatch):
    # 29 s of 44.1 kHz stereo M4A decodes to 2.6 M samples; a 1 M cap stops it although it is under the time limits
    # (--max-audio-seconds, and the 120 s of a sync call).
    monkeypatch.setattr(limits, "MAX_DECODED_SAMPLES", 1_000_000)
    response = _enroll(limited(), media("m4a"))
    assert response.status_code == 413, response.get_json()
    error = error_of(response)
    assert error["code"] == "audio_too_long" and "the limit is 1000000 decoded samples" in error["message"]
    monkeypatch.setattr(limits, "MAX_DECODED_SAMPLES", 3_000_000)
    assert _enroll(limited(), media("m4a")).status_code == 200


def test_compressed_silence_stops_decoding_at_the_limit(limited):
    # 10 minutes of 48 kHz stereo AAC in 190 KB (ADTS frames repeat); decoded whole, that is 230 MB as float32.
    two_seconds = encode(np.zeros(96000, np.float32), 48000, container="adts", codec="aac", layout="stereo")
    bomb = two_seconds * 300
    api = limited(max_audio_seconds=60.0)
    response, peak = _peak_during(lambda: _enroll(api, bomb))
    assert response.status_code == 413 and error_of(response)["code"] == "audio_too_long"
    assert "more than 60 s" in error_of(response)["message"]
    assert peak < 24 * MB, f"decoding held {peak / MB:.0f} MB"


def _flac_claiming(samples: np.ndarray, rate: int, total: int) -> bytes:
    """A FLAC of ``samples`` whose STREAMINFO says it holds ``total`` samples per channel."""
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="FLAC", subtype="PCM_16")
    data = bytearray(buffer.getvalue())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO first; its fields start at byte 8
    packed = struct.unpack(">Q", data[18:26])[0]  # rate(20) channels-1(3) bits-1(5) total samples(36)
    data[18:26] = struct.pack(">Q", (packed & ~(2**36 - 1)) | total)
    return bytes(data)


def _wav_claiming(samples: np.ndarray, rate: int, data_bytes: int) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    data = bytearray(buffer.getvalue())
    at = data.index(b"data")
    data[at + 4:at + 8] = struct.pack("<I", data_bytes)
    data[4:8] = struct.pack("<I", 0xFFFFFFFF)
    return bytes(data)


@pytest.mark.parametrize("claim", ["flac", "wav"])
def test_a_small_file_claiming_hours_costs_what_it_holds(limited, claim):
    speech = fixture_speech("conversation.wav")  # 28 s: enough speech for any enrollment rule
    if claim == "flac":
        data = _flac_claiming(speech, 16000, 7000 * 16000)  # under the 2 h limit: it would be read "at once"
        assert soundfile.info(io.BytesIO(data)).frames == 7000 * 16000
    else:
        data = _wav_claiming(speech, 16000, 0xFFFFFFF0)  # 37 hours of 16 kHz 16-bit
    response, peak = _peak_during(lambda: _enroll(limited(), data))
    assert response.status_code == 200, response.get_json()
    assert peak < 32 * MB, f"decoding held {peak / MB:.0f} MB for {len(data)} bytes"


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


@pytest.mark.live
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the server's peak memory in /proc (Linux)")
def test_a_72_byte_wav_whose_info_tag_claims_2_gb_costs_the_server_no_memory():
    # FFmpeg's RIFF INFO reader allocates and zeroes what an INFO entry claims before reading it: this WAV made one
    # request take 2 GB and seconds of CPU (a few at once and the kernel kills the server). FFmpeg's allocations
    # are capped (ffmpeg.MAX_FFMPEG_ALLOCATION_BYTES).
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, 16000, 32000, 2, 16)
    info = b"LIST" + struct.pack("<I", 0x7FFFFFF0) + b"INFO" + b"ISFT" + struct.pack("<I", 0x7FFF0000) + b"x" * 16
    tiny = b"RIFF" + struct.pack("<I", 4 + len(fmt) + len(info)) + b"WAVE" + fmt + info
    assert len(tiny) == 72
    with LiveServer("--no-grpc") as live:
        before = _peak_rss_mb(live.process.pid)
        for _ in range(2):
            status, body = http_json("POST", f"{live.url}/audio/generic/api/v2/sync/diarization/enroll?apikey=k",
                                     {"content": base64.b64encode(tiny).decode(), "speakerId": "tiny"})
            assert status == 400 and body["fault"]["detail"]["code"] == "undecodable_audio", body
        grew = _peak_rss_mb(live.process.pid) - before
        assert grew < 256, f"the server's peak memory grew by {grew:.0f} MB for {len(tiny)} bytes"


def test_float_samples_far_past_full_scale_do_not_turn_speech_into_silence(limited):
    # A float WAV at 44.1 kHz whose 32 samples hold 3e38 (a broken recorder, a bad DSP step): resampled as they
    # were, they overflowed the filter into NaN and inf, and the whole recording came out "no speech".
    speech = fixture_speech("conversation.wav")
    at_44k = soxr.resample(speech, 16000, 44100).astype(np.float32)
    at_44k[44100:44132] = np.where(np.arange(32) % 2, 3e38, -3e38).astype(np.float32)
    buffer = io.BytesIO()
    soundfile.write(buffer, at_44k, 44100, format="WAV", subtype="FLOAT")
    response = _enroll(limited(), buffer.getvalue())
    assert response.status_code == 200, response.get_json()
