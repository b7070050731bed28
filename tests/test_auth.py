"""Api keys and tenants: who may call, and whose speakers they see."""

import pytest
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


# --- the vendor's words for a refused key (vendor-docs-2020.md, "Errors") ----------------------------------------

LIST = "/audio/generic/api/v1/sync/diarization/get_enrolled_speakers"
# The docs' example body, word for word; detail.code and detail.message are the mock's only additions.
VENDOR_INVALID_KEY = {"faultstring": "Invalid ApiKey", "errorcode": "oauth.v2.InvalidApiKey"}


def _gateway_fault(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    fault = response.get_json()["fault"]
    assert set(fault) == {"faultstring", "detail"} and set(fault["detail"]) == {"errorcode", "code", "message"}
    return fault


@pytest.fixture
def good_only(tmp_path, make_app):
    from mock_server.core.config import ServerConfig
    return make_app(ServerConfig(data_dir=tmp_path / "good", api_keys=("good",))).test_client()


def test_an_invalid_key_gets_the_vendors_documented_body_and_our_explanation_in_detail(good_only):
    from mock_server.core.auth import mask_key
    fault = _gateway_fault(good_only.get(f"{LIST}?apikey=bad"), 401)
    assert {"faultstring": fault["faultstring"], "errorcode": fault["detail"]["errorcode"]} == VENDOR_INVALID_KEY
    assert fault["detail"]["code"] == "invalid_api_key"
    assert mask_key("bad") in fault["detail"]["message"] and "--api-key" in fault["detail"]["message"]


def test_the_invalid_api_key_preset_answers_the_same_vendor_body(good_only):
    armed = good_only.post("/_mock/faults", json={"preset": "invalid_api_key", "match": {"path": "get_enrolled"}})
    assert armed.status_code == 200
    fault = _gateway_fault(good_only.get(f"{LIST}?apikey=good"), 401)
    assert {"faultstring": fault["faultstring"], "errorcode": fault["detail"]["errorcode"]} == VENDOR_INVALID_KEY
    assert fault["detail"]["code"] == "invalid_api_key" and "preset" in fault["detail"]["message"]


def test_a_missing_key_gets_the_gateways_own_words_and_our_explanation_in_detail(client):
    fault = _gateway_fault(client.get(LIST), 401)
    # the docs show no body for it: the gateway's (Apigee's) own for this errorcode, the key read from ?apikey=
    assert fault["faultstring"] == "Failed to resolve API Key variable request.queryparam.apikey"
    assert fault["detail"]["errorcode"] == "steps.oauth.v2.FailedToResolveAPIKey"
    assert fault["detail"]["code"] == "missing_api_key" and "?apikey=" in fault["detail"]["message"]


# --- keys are matched exactly ----------------------------------------------------------------------------------

SURROUNDED = ["good%0A", "good%20", "%20good", "good%09", "%20", "go%00od", "good%C2%85"]  # ..., NUL, NEL (C1)


@pytest.mark.parametrize("sent", SURROUNDED)
def test_a_listed_key_with_whitespace_or_a_control_character_is_another_key_and_refused(good_only, sent):
    fault = _gateway_fault(good_only.get(f"{LIST}?apikey={sent}"), 401)
    assert fault["detail"]["code"] == "invalid_api_key" and fault["faultstring"] == "Invalid ApiKey"
    assert "good" not in fault["detail"]["message"]  # never echoed, only masked
    assert good_only.get(f"{LIST}?apikey=good").status_code == 200


@pytest.mark.parametrize("sent", SURROUNDED)
def test_without_a_key_list_such_keys_are_refused_too_saying_why(client, sent):
    fault = _gateway_fault(client.get(f"{LIST}?apikey={sent}"), 401)
    assert fault["detail"]["code"] == "invalid_api_key"
    assert any(w in fault["detail"]["message"] for w in ("whitespace", "control character"))


def test_without_a_key_list_a_space_inside_a_key_makes_a_key_of_its_own(api):
    api.enroll("alice", "speakers/alice/enroll1.wav")
    spaced = Api(api.client, key="test%20key")  # "test key": accepted, and not "test-key" nor "testkey"
    listed = spaced.list()
    assert listed.status_code == 200 and listed.get_json()["enrolled_speaker_ids"] == []
    assert [s["speaker_id"] for s in api.list().get_json()["enrolled_speaker_ids"]] == ["alice"]


def test_the_admin_api_lists_a_keys_calls_by_the_exact_key(api):
    api.list()
    assert api.client.get("/_mock/requests?apikey=test-key").get_json()["requests"]
    assert api.client.get("/_mock/requests?apikey=test-key%20").get_json()["requests"] == []
