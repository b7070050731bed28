"""Api keys and tenants: who may call, and whose speakers they see."""

from conftest import ENROLLED, Api
from timeline import agreement


def test_missing_key_is_401(client):
    response = client.get("/audio/generic/api/v2/sync/diarization/get_enrolled_speakers")
    assert response.status_code == 401 and response.get_json()["fault"]["detail"]["code"] == "missing_api_key"


def test_key_in_header_works_like_the_query_parameter(enrolled_api):
    response = enrolled_api.client.get("/audio/generic/api/v2/sync/diarization/get_enrolled_speakers",
                                       headers={"apikey": "test-key"})
    assert [s["speaker_id"] for s in response.get_json()["enrolled_speaker_ids"]] == list(ENROLLED)


def test_only_listed_keys_are_accepted(tmp_path, make_app):
    from mock_server.core.config import ServerConfig
    client = make_app(ServerConfig(data_dir=tmp_path, api_keys=("good",))).test_client()
    from mock_server.core.auth import mask_key
    ok = client.get("/audio/generic/api/v1/sync/diarization/get_enrolled_speakers?apikey=good")
    bad = client.get("/audio/generic/api/v1/sync/diarization/get_enrolled_speakers?apikey=bad-key-Z9Q4")
    assert ok.status_code == 200
    assert bad.status_code == 401 and bad.get_json()["fault"]["detail"]["code"] == "invalid_api_key"
    message = bad.get_json()["fault"]["detail"]["message"]
    assert "bad-key" not in message and "Z9Q4" not in message  # the refused key is never echoed ...
    assert mask_key("bad-key-Z9Q4") in message                 # ... only its mask names it


def test_another_key_cannot_list_identify_or_delete(enrolled_api):
    other = Api(enrolled_api.client, key="other-key")
    assert other.list().get_json()["enrolled_speaker_ids"] == []
    refused = other.identify("alice_short.flac", ["alice"], encoding="FLAC")
    assert refused.status_code == 400 and refused.get_json()["fault"]["detail"]["code"] == "unknown_speakers"
    deleted = other.delete("alice")
    assert deleted.status_code == 404
    assert [s["speaker_id"] for s in enrolled_api.list().get_json()["enrolled_speaker_ids"]] == list(ENROLLED)


def test_same_speaker_id_under_two_keys_are_two_voices(enrolled_api, voices):
    other = Api(enrolled_api.client, key="other-key")
    for entry in voices["speakers"]["bob"]["enroll"]:
        other.enroll("alice", entry["file"])  # "alice" under other-key is bob's voice
    other.enroll_fixture_speaker("dave", voices)
    test = voices["tests"]["conversation"]
    truth_alice = [s for s in test["segments"] if s["speaker_id"] == "alice"]
    truth_bob = [dict(s, speaker_id="alice") for s in test["segments"] if s["speaker_id"] == "bob"]
    mine = enrolled_api.identify(test["file"], ["alice"]).get_json()["segments"]
    theirs = other.identify(test["file"], ["alice"]).get_json()["segments"]
    named_mine = [s for s in mine if s["speaker_id"] == "alice"]
    named_theirs = [s for s in theirs if s["speaker_id"] == "alice"]
    assert agreement(truth_alice, named_mine, test["duration"]) >= 0.8   # test-key's alice is alice's voice
    assert agreement(truth_bob, named_theirs, test["duration"]) >= 0.8   # other-key's alice is bob's voice
    assert agreement(truth_bob, named_mine, test["duration"]) <= 0.2
