"""Async identify against a live server process, with a real local webhook receiver."""
import re

import pytest
from conftest import b64, fixture_bytes
from timeline import check_shape

from mock_server.core.profiles import UNKNOWN_SPEAKER as UNKNOWN
from mock_server.testing import LiveServer, http_json

pytestmark = pytest.mark.live  # every test here talks to a mock server process


@pytest.fixture(scope="module")
def server(voices, tmp_path_factory):
    live = LiveServer("--webhook-backoff", "0.2", data_dir=tmp_path_factory.mktemp("live")).start()
    for speaker in ("alice", "bob", "carol", "dave"):
        for entry in voices["speakers"][speaker]["enroll"]:
            status, _ = http_json("POST", f"{live.url}/audio/generic/api/v2/sync/diarization/enroll?apikey=k",
                              {"content": b64(entry["file"]), "encoding": "WAV", "speakerId": speaker})
            assert status == 200
    yield live
    assert live.stop() == 0


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_async_identify_posts_segments_to_the_webhook(server, receiver, voices, version):
    test = voices["tests"]["stranger_conversation"]
    url = (f"{server.url}/audio/generic/api/{version}/async/diarization/identify?apikey=k"
           f"&webhook={receiver.url}/hook&request_id=42")
    status, body = http_json("POST", url, {"content": b64(test["file"]), "encoding": "FLAC", "sampleRate": 16000,
                                       "languageCode": "en-US", "speakerIds": test["speakerIds"]})
    assert status == 202 and body == {"request_id": "42", "api": body["api"]} and body["api"]
    delivery = receiver.wait_for("42", timeout=30)
    assert delivery.path == "/hook" and delivery.headers["Content-Type"] == "application/json"
    assert set(delivery.body) == {"request_id", "response"} and delivery.body["request_id"] == "42"
    segments = delivery.body["response"]["segments"]
    check_shape(segments, set(test["speakerIds"]) | {UNKNOWN})
    status, sync = http_json("POST", f"{server.url}/audio/generic/api/{version}/sync/diarization/identify?apikey=k",
                         {"content": b64(test["file"]), "encoding": "FLAC", "speakerIds": test["speakerIds"]})
    assert sync["segments"] == segments


def test_generated_request_id_is_a_uuid4(server, receiver):
    status, body = http_json("POST", f"{server.url}/audio/generic/api/v2/async/diarization/identify?apikey=k"
                                 f"&webhook={receiver.url}/h",
                         {"content": b64("alice_short.flac"), "encoding": "FLAC", "speakerIds": ["alice"]})
    assert status == 202
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", body["request_id"])
    delivery = receiver.wait_for(body["request_id"], timeout=30)
    assert {s["speaker_id"] for s in delivery.body["response"]["segments"]} == {"alice"}


def test_a_failing_job_posts_an_error(server, receiver):
    status, body = http_json("POST", f"{server.url}/audio/generic/api/v2/async/diarization/identify?apikey=k"
                                 f"&webhook={receiver.url}/h&request_id=bad-audio",
                         {"url": f"{receiver.url}/missing.wav", "encoding": "WAV", "speakerIds": ["alice"]})
    assert status == 202
    delivery = receiver.wait_for("bad-audio", timeout=30)
    error = delivery.body["response"]["fault"]["detail"]
    assert error["code"] == "url_fetch_failed" and "404" in error["message"]


def test_audio_from_a_url(server, receiver, voices):
    receiver.files["/clip.flac"] = fixture_bytes("alice_short.flac")
    status, body = http_json("POST", f"{server.url}/audio/generic/api/v2/sync/diarization/identify?apikey=k",
                         {"url": f"{receiver.url}/clip.flac", "encoding": "FLAC", "speakerIds": ["alice", "bob"]})
    assert status == 200 and {s["speaker_id"] for s in body["segments"]} == {"alice"}
    status, body = http_json("POST", f"{server.url}/audio/generic/api/v2/sync/diarization/identify?apikey=k",
                         {"url": f"{receiver.url}/nothing-here.wav", "speakerIds": ["alice"]})
    assert status == 400 and body["fault"]["detail"]["code"] == "url_fetch_failed"


def test_a_receiver_that_fails_first_still_gets_the_result(server, receiver):
    receiver.fail_with = 503
    status, _ = http_json("POST", f"{server.url}/audio/generic/api/v2/async/diarization/identify?apikey=k"
                              f"&webhook={receiver.url}/h&request_id=retry-me",
                      {"content": b64("alice_short.flac"), "encoding": "FLAC", "speakerIds": ["alice"]})
    assert status == 202
    with pytest.raises(TimeoutError):
        receiver.wait_for("retry-me", timeout=1.0)
    receiver.fail_with = None
    delivery = receiver.wait_for("retry-me", timeout=30)
    assert delivery.body["response"]["segments"]
    assert len(receiver.for_request("retry-me")) == 1


def test_health_answers_with_version_and_uptime(server):
    status, body = http_json("GET", f"{server.url}/health")
    assert status == 200 and body["status"] == "ok" and body["uptime_seconds"] >= 0 and body["version"]
