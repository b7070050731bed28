"""Bad input never gives a 5xx or a traceback, and never disturbs what is stored (hypothesis, Flask test client).

Every public endpoint gets wrong types, empty and huge strings, invalid base64, truncated or corrupted audio of
each encoding, zero-length and one-sample audio, NaN samples, six channels, absurd sample rates, unicode and
very long speaker ids, and junk query strings. After each test the four enrolled speakers still list and
identify exactly as before. Only loopback urls are ever generated (to a closed port).
"""
from __future__ import annotations

import base64
import io
import json
import shutil
import struct

import numpy as np
import pytest
import soundfile
from conftest import ENROLLED, Api, fixture_bytes, running_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server.core.config import ServerConfig
from mock_server.testing import WebhookReceiver

FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CLOSED_PORT_URL = "http://127.0.0.1:9/clip.wav"  # discard port: nothing listens, the fetch fails at once


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory, enrolled_db):
    data = tmp_path_factory.mktemp("fuzz") / "data"
    shutil.copytree(enrolled_db, data)
    with running_app(ServerConfig(data_dir=data, url_timeout_seconds=2.0, max_audio_seconds=120.0)) as app, \
            WebhookReceiver() as receiver:
        api = Api(app.test_client())
        baseline = (api.list().get_json(), _identify_all(api))
        yield api, receiver
        assert (api.list().get_json()["enrolled_speaker_ids"][:4], _identify_all(api)) == (
            baseline[0]["enrolled_speaker_ids"], baseline[1]), "stored speakers changed under bad input"


def _identify_all(api: Api):
    response = api.identify("alice_short.flac", list(ENROLLED), encoding="FLAC")
    assert response.status_code == 200
    return response.get_json()["segments"]


def _check(response) -> None:
    """The one property: a 2xx/4xx JSON answer, never a 5xx, never a traceback."""
    assert response.status_code < 500, (response.status_code, response.get_data()[:500])
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    body = json.loads(text)
    if response.status_code >= 400:
        error = body["fault"]["detail"]
        assert isinstance(error["code"], str) and error["code"] and isinstance(error["message"], str)


def _check_state(api: Api) -> None:
    listed = [s["speaker_id"] for s in api.list().get_json()["enrolled_speaker_ids"]]
    assert listed[:4] == list(ENROLLED)


# --- audio -----------------------------------------------------------------------------------------------------

def _wav(samples: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def _wav_header(rate: int, channels: int = 1, bits: int = 16, frames: int = 10) -> bytes:
    """A hand-made PCM WAV header, for rates and layouts libsndfile itself would refuse to write."""
    block = channels * bits // 8
    data = b"\x01\x00" * (frames * block // 2)
    fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * block) & 0xFFFFFFFF, block, bits)
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data"
            + struct.pack("<I", len(data)) + data)


def _corpus() -> dict[str, tuple[bytes, str]]:
    rng = np.random.default_rng(7)
    tone = (0.3 * np.sin(np.arange(16000) * 2 * np.pi * 220 / 16000)).astype(np.float32)
    nan = tone.copy()
    nan[::7] = np.nan
    items = {
        "wav": (fixture_bytes("conversation.wav")[:200_000], "WAV"),
        "flac": (fixture_bytes("alice_short.flac"), "FLAC"),
        "mp3": (fixture_bytes("conversation_44k.mp3")[:60_000], "MP3"),
        "ogg": (fixture_bytes("conversation.ogg")[:40_000], "OGG"),
        "linear16": (fixture_bytes("conversation.raw")[:160_000], "LINEAR16"),
        "stereo": (fixture_bytes("conversation_stereo.wav")[:200_000], "WAV"),
        "one_sample": (_wav(np.zeros(1, dtype=np.float32), 16000), "WAV"),
        "zero_samples": (_wav(np.zeros(0, dtype=np.float32), 16000), "WAV"),
        "nan_float": (_wav(nan, 16000, "FLOAT"), "WAV"),
        "inf_float": (_wav(np.full(16000, np.inf, dtype=np.float32), 16000, "FLOAT"), "WAV"),
        "six_channels": (_wav(rng.normal(0, 0.1, (16000, 6)).astype(np.float32), 16000), "WAV"),
        "rate_1hz": (_wav_header(1), "WAV"),
        "rate_4ghz": (_wav_header(4_000_000_000), "WAV"),
        "rate_0": (_wav_header(0), "WAV"),
        "channels_0": (_wav_header(16000, channels=0), "WAV"),
        "bits_7": (_wav_header(16000, bits=7), "WAV"),
        "noise": (rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), "WAV"),
    }
    return items


CORPUS = _corpus()


@st.composite
def audio_bytes(draw) -> tuple[bytes, str | None]:
    """A corpus entry, maybe truncated, with a few bytes overwritten, under its own or a wrong encoding."""
    name = draw(st.sampled_from(sorted(CORPUS)))
    data, encoding = CORPUS[name]
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    if cut is not None:
        data = data[:cut]
    flips = draw(st.lists(st.tuples(st.integers(0, max(0, len(data) - 1)), st.integers(0, 255)), max_size=8))
    if data and flips:
        mutable = bytearray(data)
        for position, value in flips:
            mutable[position] = value
        data = bytes(mutable)
    encoding = draw(st.one_of(st.just(encoding), st.none(),
                              st.sampled_from(["WAV", "FLAC", "MP3", "OGG", "LINEAR16", "wave", "AAC", ""])))
    return data, encoding


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=50))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                 st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=4)), max_leaves=10)
speaker_ids = st.one_of(
    st.text(min_size=1, max_size=40).filter(lambda s: s not in ENROLLED),
    st.text(min_size=250, max_size=300), st.just("x" * 100_000), st.just(""), st.just("   "),
    st.just("ali\x00ce"), st.just("🎙️声纹-ℵ"), json_values)
rates = st.one_of(st.none(), st.integers(-10, 10**12), st.sampled_from([0, 1, 3999, 8000, 16000, 384001]),
                  st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), json_values)
bad_base64 = st.one_of(st.text(max_size=200), st.just("=" * 17), st.just("@@@@"), st.just("data:audio/wav;base64,"),
                       st.just("QUJD" * 3 + "!"), st.just("x" * 1_000_001))


@st.composite
def audio_fields(draw) -> dict:
    body: dict = {}
    kind = draw(st.sampled_from(["audio", "audio", "audio", "bad_base64", "wrong_type", "url", "both", "none"]))
    if kind in ("audio", "both"):
        data, encoding = draw(audio_bytes())
        body["content"] = base64.b64encode(data).decode()
        if encoding is not None:
            body["encoding"] = encoding
    elif kind == "bad_base64":
        body["content"] = draw(bad_base64)
    elif kind == "wrong_type":
        body["content"] = draw(json_values)
    if kind in ("url", "both"):
        body["url"] = draw(st.sampled_from([CLOSED_PORT_URL, "ftp://127.0.0.1/a", "", "http://", "127.0.0.1:9"]))
    if draw(st.booleans()):
        body["sampleRate"] = draw(rates)
    if draw(st.booleans()):
        body["encoding"] = draw(st.one_of(json_values, st.text(max_size=20)))
    if draw(st.booleans()):
        body["languageCode"] = draw(json_values)
    return body


# --- properties ------------------------------------------------------------------------------------------------

@FUZZ
@given(fields=audio_fields(), speaker=speaker_ids, version=st.sampled_from(["v1", "v2"]))
def test_enroll_never_fails_with_5xx(fuzz_env, fields, speaker, version):
    api, _ = fuzz_env
    api.version = version
    _check(api.client.post(api.url("sync/diarization/enroll"), json={**fields, "speakerId": speaker}))
    api.version = "v2"
    _check_state(api)


@FUZZ
@given(fields=audio_fields(), ids=st.one_of(st.lists(st.sampled_from(ENROLLED), min_size=1, max_size=4),
                                            st.lists(speaker_ids, max_size=5), json_values, st.just(["a"] * 101)))
def test_sync_identify_never_fails_with_5xx(fuzz_env, fields, ids):
    api, _ = fuzz_env
    _check(api.client.post(api.url("sync/diarization/identify"), json={**fields, "speakerIds": ids}))


@FUZZ
@given(fields=audio_fields(), ids=st.one_of(st.lists(st.sampled_from(ENROLLED), min_size=1, max_size=2),
                                            json_values),
       webhook=st.one_of(st.none(), st.text(max_size=40), st.just("javascript:x"), st.just("http://127.0.0.1:9/h")),
       request_id=st.one_of(st.none(), st.text(max_size=30), st.just("r" * 300), st.just("a\nb")))
def test_async_identify_never_fails_with_5xx(fuzz_env, fields, ids, webhook, request_id):
    api, receiver = fuzz_env
    query = {"apikey": api.key, "webhook": webhook if webhook is not None else receiver.url + "/h"}
    if request_id is not None:
        query["request_id"] = request_id
    response = api.client.post("/audio/generic/api/v2/async/diarization/identify",
                               json={**fields, "speakerIds": ids}, query_string=query)
    _check(response)


@FUZZ
@given(speaker=speaker_ids, extra=st.dictionaries(st.text(max_size=10), json_values, max_size=3))
def test_delete_never_fails_with_5xx(fuzz_env, speaker, extra):
    api, _ = fuzz_env
    _check(api.client.post(api.url("sync/diarization/delete"), json={**extra, "speakerId": speaker}))
    _check_state(api)


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["apikey", "webhook", "request_id", "x", "apikey[]"]),
                             st.text(max_size=300), max_size=4),
       header=st.one_of(st.none(), st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=80)))
def test_list_and_query_strings_never_fail_with_5xx(fuzz_env, query, header):
    api, _ = fuzz_env
    headers = {"apikey": header} if header else {}
    for version in ("v1", "v2"):
        response = api.client.get(f"/audio/generic/api/{version}/sync/diarization/get_enrolled_speakers",
                                  query_string=query, headers=headers)
        _check(response)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=2000), st.text(max_size=500).map(str.encode),
                     json_values.map(lambda v: json.dumps(v).encode()), st.just(b"\xff\xfe{}"), st.just(b"[" * 5000)),
       endpoint=st.sampled_from(["sync/diarization/enroll", "sync/diarization/identify", "sync/diarization/delete",
                                 "async/diarization/identify"]),
       content_type=st.sampled_from(["application/json", "text/plain", "", "multipart/form-data; boundary=x"]))
def test_raw_bodies_never_fail_with_5xx(fuzz_env, raw, endpoint, content_type):
    api, receiver = fuzz_env
    url = api.url(endpoint, webhook=receiver.url + "/h" if endpoint.startswith("async") else None)
    _check(api.client.post(url, data=raw, content_type=content_type))
