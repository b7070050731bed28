"""Enroll, list and delete through HTTP, under v1 and v2."""
import pytest

from conftest import ENROLLED, Api

from mock_server.app import state_of


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_enroll_answers_success_then_complete(client, voices, version):
    api = Api(client, version=version)
    files = [e["file"] for e in voices["speakers"]["alice"]["enroll"]]
    answers = [api.enroll("alice", f).get_json() for f in files]
    assert answers == [{"message": "Success"}, {"message": "Success"}, {"message": "Complete"}]
    more = api.enroll("alice", "alice_short.flac")
    assert more.status_code == 200 and more.get_json() == {"message": "Complete"}


def test_enrollments_required_is_a_server_option(tmp_path, voices, make_app):
    from mock_server.core.config import ServerConfig
    app = make_app(ServerConfig(data_dir=tmp_path, enrollments_required=1))
    api = Api(app.test_client())
    assert api.enroll("bob", voices["speakers"]["bob"]["enroll"][0]["file"]).get_json() == {"message": "Complete"}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_list_shows_speakers_and_completeness(client, voices, version):
    api = Api(client, version=version)
    api.enroll_fixture_speaker("alice", voices)
    api.enroll("bob", voices["speakers"]["bob"]["enroll"][0]["file"])
    body = api.list().get_json()
    assert body["developer_id"] and "test-key" not in body["developer_id"]
    assert body["enrolled_speaker_ids"] == [{"speaker_id": "alice", "enrollment_complete": "True"},
                                            {"speaker_id": "bob", "enrollment_complete": "False"}]


def test_list_is_empty_for_a_new_key(api):
    response = api.list()
    assert response.status_code == 200
    assert response.get_json()["enrolled_speaker_ids"] == []


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_delete_forgets_the_speaker(enrolled_api, version):
    enrolled_api.version = version
    response = enrolled_api.delete("carol")
    assert response.status_code == 200 and response.get_json() == {"message": "Success"}
    listed = [s["speaker_id"] for s in enrolled_api.list().get_json()["enrolled_speaker_ids"]]
    assert listed == [s for s in ENROLLED if s != "carol"]
    again = enrolled_api.delete("carol")
    assert again.status_code == 404 and again.get_json()["error"]["code"] == "speaker_not_found"
    refused = enrolled_api.identify("conversation.wav", ["carol"])
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "unknown_speakers"


def test_silence_is_refused_and_stores_nothing(api):
    response = api.enroll("ghost", "silence.wav")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "no_speech"
    assert api.list().get_json()["enrolled_speaker_ids"] == []


def test_enrolling_more_audio_changes_the_voiceprint(enrolled_api, app=None):
    state = state_of(enrolled_api.client.application)
    from mock_server.core.auth import tenant_of
    before = state.store.speakers(tenant_of("test-key"), ["alice"])["alice"]
    assert enrolled_api.enroll("alice", "alice_short.flac").get_json() == {"message": "Complete"}
    after = state.store.speakers(tenant_of("test-key"), ["alice"])["alice"]
    assert after.enrollments == before.enrollments + 1
    assert after.voiceprint != before.voiceprint


def test_unicode_speaker_ids_round_trip(api, voices):
    name = "Zoë-😀-話者"
    for entry in voices["speakers"]["dave"]["enroll"]:
        assert api.enroll(name, entry["file"]).status_code == 200
    assert api.list().get_json()["enrolled_speaker_ids"][0]["speaker_id"] == name
    response = api.identify("stranger_conversation.flac", [name], encoding="FLAC")
    assert response.status_code == 200
    assert {s["speaker_id"] for s in response.get_json()["segments"]} <= {name, "unknown"}
