"""Api keys stay secret (logs, journal) and one key's speakers and jobs are invisible to every other key."""
from __future__ import annotations

import json
import shutil

import pytest
from conftest import Api, b64

from mock_server.testing import LiveServer, WebhookReceiver, http_json

SECRET = "sk-live-9f8e7d6c5b4a-DISTINCTIVE"
HEADER_SECRET = "hdr-0a1b2c3d4e5f-DISTINCTIVE"


def _call(url: str, body: dict | None = None, headers: dict | None = None):
    return http_json("POST" if body is not None else "GET", url, body, headers=headers)


@pytest.mark.live
def test_api_keys_never_appear_in_logs_or_the_journal(tmp_path):
    server = LiveServer("--log-level", "DEBUG", data_dir=tmp_path).start()
    try:
        base = f"{server.url}/audio/generic/api/v2"
        with WebhookReceiver() as receiver:
            for key_query, headers in ((f"apikey={SECRET}", {}), ("", {"apikey": HEADER_SECRET})):
                _call(f"{base}/sync/diarization/enroll?{key_query}",
                      {"content": b64("speakers/alice/enroll1.wav"), "speakerId": "alice"}, headers)
                _call(f"{base}/sync/diarization/get_enrolled_speakers?{key_query}", headers=headers)
                _call(f"{base}/sync/diarization/identify?{key_query}", {"content": b64("alice_short.flac"),
                                                                          "speakerIds": ["alice"]}, headers)
                _call(f"{base}/sync/diarization/delete?{key_query}", {"speakerId": "nobody"}, headers)
                _call(f"{base}/sync/diarization/enroll?{key_query}", {"content": "%%%not base64"}, headers)
                status, body = _call(f"{base}/async/diarization/identify?{key_query}&webhook={receiver.url}/h"
                                     f"&request_id=r-{len(headers)}",
                                     {"content": b64("alice_short.flac"), "speakerIds": ["alice"]}, headers)
            journal_status, journal = _call(f"{server.url}/_mock/requests")
    finally:
        assert server.stop() == 0
    log = server.log()
    assert "/sync/diarization/enroll" in log  # the requests were logged ...
    assert SECRET not in log and HEADER_SECRET not in log  # ... without their keys
    for part in (SECRET[:12], HEADER_SECRET[:12]):
        assert part not in log
    assert journal_status == 200, journal  # the journal must be there to be checked
    assert len(journal["requests"]) >= 12  # the calls above, each journaled (with its key masked)
    text = json.dumps(journal)
    assert SECRET not in text and HEADER_SECRET not in text


# --- tenant isolation ------------------------------------------------------------------------------------------

@pytest.fixture
def two_tenants(tmp_path, enrolled_db, make_app):
    """``owner`` (test-key) has alice, bob, carol and dave; ``other`` is a second key on the same server."""
    from mock_server.core.config import ServerConfig

    data = tmp_path / "data"
    shutil.copytree(enrolled_db, data)
    client = make_app(ServerConfig(data_dir=data)).test_client()
    return Api(client, key="test-key"), Api(client, key="another-key")


def test_list_shows_only_the_callers_speakers(two_tenants):
    owner, other = two_tenants
    assert len(owner.list().get_json()["enrolled_speaker_ids"]) == 4
    assert other.list().get_json()["enrolled_speaker_ids"] == []
    assert owner.list().get_json()["developer_id"] != other.list().get_json()["developer_id"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_identify_cannot_use_another_keys_speakers(two_tenants, mode):
    owner, other = two_tenants
    with WebhookReceiver() as receiver:
        query = {"webhook": receiver.url + "/h"} if mode == "async" else None
        response = other.identify("alice_short.flac", ["alice"], mode=mode, query=query, encoding="FLAC")
        assert response.status_code == 400 and response.get_json()["fault"]["detail"]["code"] == "unknown_speakers"
        assert receiver.deliveries == []


def test_delete_cannot_touch_another_keys_speakers(two_tenants):
    owner, other = two_tenants
    response = other.delete("alice")
    assert response.status_code == 404 and response.get_json()["fault"]["detail"]["code"] == "speaker_not_found"
    assert "alice" in [s["speaker_id"] for s in owner.list().get_json()["enrolled_speaker_ids"]]


def test_enroll_under_another_key_builds_a_separate_speaker(two_tenants, voices):
    owner, other = two_tenants
    # "alice" under the other key is a new speaker made of bob's voice; the owner's alice is untouched.
    answer = other.enroll("alice", voices["speakers"]["bob"]["enroll"][0]["file"]).get_json()
    assert answer["message"] == "Success" and answer["enrollment_complete"] is False
    assert [(s["speaker_id"], s["enrollment_complete"]) for s in other.list().get_json()["enrolled_speaker_ids"]] \
        == [("alice", False)]
    owner_alice = [s for s in owner.list().get_json()["enrolled_speaker_ids"] if s["speaker_id"] == "alice"]
    assert len(owner_alice) == 1 and owner_alice[0]["enrollment_complete"] is True
    assert owner_alice[0]["total_speech_duration"] > answer["total_speech_duration"]
    segments = owner.identify("alice_short.flac", ["alice", "bob"], encoding="FLAC").get_json()["segments"]
    assert {s["speaker_id"] for s in segments} == {"alice"}


def test_an_async_result_goes_only_to_its_own_request(two_tenants):
    owner, other = two_tenants
    for n in (1, 2, 3):
        assert other.enroll("zed", f"speakers/bob/enroll{n}.wav").status_code == 200
    with WebhookReceiver() as owners, WebhookReceiver() as others:
        # The same request_id under two keys: each result reaches only its own webhook.
        for api, receiver, speaker in ((owner, owners, "alice"), (other, others, "zed")):
            response = api.identify("alice_short.flac", [speaker], mode="async", encoding="FLAC",
                                    query={"webhook": receiver.url + "/h", "request_id": "same-id"})
            assert response.status_code == 202
        owner_segments = owners.wait_for("same-id", timeout=30).body["response"]["segments"]
        other_segments = others.wait_for("same-id", timeout=30).body["response"]["segments"]
        assert {s["speaker_id"] for s in owner_segments} == {"alice"}
        assert "alice" not in {s["speaker_id"] for s in other_segments}
        assert len(owners.deliveries) == 1 and len(others.deliveries) == 1


def test_a_missing_or_refused_key_is_401_everywhere(tmp_path, make_app):
    from mock_server.core.config import ServerConfig

    app = make_app(ServerConfig(data_dir=tmp_path / "d", api_keys=("good",)))
    client = app.test_client()
    base = "/audio/generic/api/v1"
    calls = [("get", "/sync/diarization/get_enrolled_speakers", None),
             ("post", "/sync/diarization/enroll", {"speakerId": "a", "content": b64("alice_short.flac")}),
             ("post", "/sync/diarization/delete", {"speakerId": "a"}),
             ("post", "/sync/diarization/identify", {"speakerIds": ["a"], "content": b64("alice_short.flac")}),
             ("post", "/async/diarization/identify?webhook=http://127.0.0.1:9/h",
              {"speakerIds": ["a"], "content": b64("alice_short.flac")})]
    for method, path, body in calls:
        for query in ("", "apikey=wrong-key-Q7Z9"):
            sep = "&" if "?" in path else "?"
            url = base + path + (sep + query if query else "")
            response = getattr(client, method)(url, json=body)
            assert response.status_code == 401, (url, response.get_json())
            assert "wrong-key-Q7Z9" not in json.dumps(response.get_json())
