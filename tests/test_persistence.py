"""State lives in SQLite under --data-dir: a new app, or a restarted process, knows every speaker."""
import json
import urllib.request

from conftest import Api, b64
from mock_server.app import create_app
from mock_server.config import ServerConfig
from mock_server.testing import LiveServer


def test_a_new_app_on_the_same_data_dir_knows_every_speaker(tmp_path, voices):
    first = create_app(ServerConfig(data_dir=tmp_path))
    Api(first.test_client()).enroll_fixture_speaker("alice", voices)
    first.extensions["speaker_id_mock"].runner.stop()
    second = Api(create_app(ServerConfig(data_dir=tmp_path)).test_client())
    assert second.list().get_json()["enrolled_speaker_ids"] == [{"speaker_id": "alice",
                                                                "enrollment_complete": "True"}]
    segments = second.identify("alice_short.flac", ["alice"], encoding="FLAC").get_json()["segments"]
    assert {s["speaker_id"] for s in segments} == {"alice"}


def _post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_speakers_survive_a_killed_process(tmp_path, voices):
    server = LiveServer(data_dir=tmp_path).start()
    try:
        for entry in voices["speakers"]["dave"]["enroll"]:
            _post(f"{server.url}/audio/generic/api/v1/sync/diarization/enroll?apikey=k",
                  {"content": b64(entry["file"]), "encoding": "WAV", "speakerId": "dave"})
    finally:
        server.kill()
    restarted = LiveServer(data_dir=tmp_path).start()
    try:
        with urllib.request.urlopen(f"{restarted.url}/audio/generic/api/v1/sync/diarization/"
                                    "get_enrolled_speakers?apikey=k", timeout=30) as response:
            listed = json.loads(response.read())
        assert listed["enrolled_speaker_ids"] == [{"speaker_id": "dave", "enrollment_complete": "True"}]
    finally:
        assert restarted.stop() == 0


def test_voiceprints_of_an_older_model_are_recomputed_from_the_kept_audio(tmp_path, voices):
    import sqlite3
    from mock_server import pipeline
    app = create_app(ServerConfig(data_dir=tmp_path))
    api = Api(app.test_client())
    for speaker in ("alice", "bob"):
        api.enroll_fixture_speaker(speaker, voices)
    before = api.identify("stranger_conversation.flac", ["alice", "bob"], encoding="FLAC").get_json()
    app.extensions["speaker_id_mock"].runner.stop()
    # What an older release would have left behind: another model's version and voiceprints it can't read.
    with sqlite3.connect(tmp_path / "speakers.sqlite3") as db:
        db.execute("UPDATE speakers SET model_version='old-model', voiceprint=x'00'")
        db.execute("UPDATE enrollments SET model_version='old-model', voiceprint=x'00'")
    restarted = create_app(ServerConfig(data_dir=tmp_path))
    # each speaker is recomputed the first time a request asks about it: both are asked about here
    again = Api(restarted.test_client()).identify("stranger_conversation.flac", ["alice", "bob"], encoding="FLAC")
    assert again.status_code == 200 and again.get_json() == before
    with sqlite3.connect(tmp_path / "speakers.sqlite3") as db:
        versions = {row[0] for row in db.execute("SELECT model_version FROM speakers UNION "
                                                 "SELECT model_version FROM enrollments")}
    assert versions == {pipeline.MODEL_VERSION}
    restarted.extensions["speaker_id_mock"].runner.stop()
