"""State lives in SQLite under --data-dir: a new app, or a restarted process, knows every speaker."""
import sqlite3

import pytest
from conftest import Api, b64, running_app

from mock_server import pipeline
from mock_server.core.config import ServerConfig
from mock_server.testing import LiveServer, http_json


def as_an_older_model_left_them(data_dir, *, speakers: bool = True, enrollments: str = "", where: str = "") -> None:
    """Rewrite the store as an older release would have left it: another model's version and voiceprints it
    can't read, on the speakers (unless ``speakers`` is False) and on the enrollments (``where``: only those;
    ``enrollments``: more to set on them)."""
    with sqlite3.connect(data_dir / "speakers.sqlite3") as db:
        if speakers:
            db.execute("UPDATE speakers SET model_version='old-model', voiceprint=x'00'")
        db.execute(f"UPDATE enrollments SET model_version='old-model', voiceprint=x'00'{enrollments} {where}")


def model_versions(data_dir, *tables: str) -> set[str]:
    """The model versions stored in ``tables`` (speakers and enrollments when none is named)."""
    sql = " UNION ".join(f"SELECT model_version FROM {t}" for t in tables or ("speakers", "enrollments"))
    with sqlite3.connect(data_dir / "speakers.sqlite3") as db:
        return {row[0] for row in db.execute(sql)}


def test_a_new_app_on_the_same_data_dir_knows_every_speaker(tmp_path, voices, make_app):
    with running_app(ServerConfig(data_dir=tmp_path)) as first:
        Api(first.test_client()).enroll_fixture_speaker("alice", voices)
    second = Api(make_app(ServerConfig(data_dir=tmp_path)).test_client())
    listed = second.list().get_json()["enrolled_speaker_ids"]
    assert [(s["speaker_id"], s["enrollment_complete"]) for s in listed] == [("alice", True)]
    segments = second.identify("alice_short.flac", ["alice"], encoding="FLAC").get_json()["segments"]
    assert {s["speaker_id"] for s in segments} == {"alice"}


@pytest.mark.live
def test_speakers_survive_a_killed_process(tmp_path, voices):
    server = LiveServer(data_dir=tmp_path).start()
    try:
        for entry in voices["speakers"]["dave"]["enroll"]:
            status, _ = http_json("POST", f"{server.url}/audio/generic/api/v1/sync/diarization/enroll?apikey=k",
                                  {"content": b64(entry["file"]), "encoding": "WAV", "speakerId": "dave"})
            assert status == 200
    finally:
        server.kill()
    restarted = LiveServer(data_dir=tmp_path).start()
    try:
        status, listed = http_json("GET", f"{restarted.url}/audio/generic/api/v1/sync/diarization/"
                                          "get_enrolled_speakers?apikey=k")
        assert status == 200
        assert [(s["speaker_id"], s["enrollment_complete"]) for s in listed["enrolled_speaker_ids"]] == [
            ("dave", True)]
    finally:
        assert restarted.stop() == 0


def test_voiceprints_of_an_older_model_are_recomputed_from_the_kept_audio(tmp_path, voices, make_app):
    with running_app(ServerConfig(data_dir=tmp_path)) as app:
        api = Api(app.test_client())
        for speaker in ("alice", "bob"):
            api.enroll_fixture_speaker(speaker, voices)
        before = api.identify("stranger_conversation.flac", ["alice", "bob"], encoding="FLAC").get_json()
    as_an_older_model_left_them(tmp_path)
    restarted = make_app(ServerConfig(data_dir=tmp_path))
    # each speaker is recomputed the first time a request asks about it: both are asked about here
    again = Api(restarted.test_client()).identify("stranger_conversation.flac", ["alice", "bob"], encoding="FLAC")
    assert again.status_code == 200 and again.get_json() == before
    assert model_versions(tmp_path) == {pipeline.MODEL_VERSION}


def test_an_enrollment_after_a_model_change_keeps_the_speakers_earlier_enrollments(tmp_path, voices, make_app):
    # The first request about a speaker after an upgrade may be an enrollment: its voiceprint was then combined
    # with the current model's enrollments only (none), and alice's three earlier recordings stopped counting.
    with running_app(ServerConfig(data_dir=tmp_path)) as app:
        Api(app.test_client()).enroll_fixture_speaker("alice", voices)
    as_an_older_model_left_them(tmp_path)
    api = Api(make_app(ServerConfig(data_dir=tmp_path)).test_client())
    enrolled = api.enroll("alice", voices["speakers"]["dave"]["enroll"][0]["file"])   # someone else's voice
    assert enrolled.status_code == 200
    with sqlite3.connect(tmp_path / "speakers.sqlite3") as db:
        (count,) = db.execute("SELECT enrollments FROM speakers WHERE speaker_id='alice'").fetchone()
    assert count == len(voices["speakers"]["alice"]["enroll"]) + 1
    named = api.identify("alice_short.flac", ["alice"], encoding="FLAC").get_json()["segments"]
    assert {s["speaker_id"] for s in named} == {"alice"}   # still her voice, not dave's alone


def test_old_recordings_the_current_model_hears_nothing_in_do_not_block_a_new_enrollment(tmp_path, voices, make_app):
    # They count as nothing; the new recording may still complete the speaker (it was refused with
    # enrollment_incomplete, an error the vendor's enroll never answers).
    with running_app(ServerConfig(data_dir=tmp_path)) as app:
        Api(app.test_client()).enroll_fixture_speaker("alice", voices)
    as_an_older_model_left_them(tmp_path, enrollments=", audio=zeroblob(320000)")
    api = Api(make_app(ServerConfig(data_dir=tmp_path)).test_client())
    enrolled = api.enroll("alice", voices["speakers"]["alice"]["enroll"][0]["file"])
    assert enrolled.status_code == 200, enrolled.get_json()
    # heard as a voice enrolled from the new recording alone
    alone = Api(make_app(ServerConfig(data_dir=tmp_path / "alone", api_profile="2019",
                                      enrollments_required=1)).test_client())
    assert alone.enroll("alice", voices["speakers"]["alice"]["enroll"][0]["file"]).status_code == 200
    named = api.identify("conversation.wav", ["alice"]).get_json()["segments"]
    assert named == alone.identify("conversation.wav", ["alice"]).get_json()["segments"]
    assert "alice" in {s["speaker_id"] for s in named}


def test_enrollments_of_an_older_model_under_a_current_speaker_are_recomputed_too(tmp_path, voices, make_app):
    # what the bug above left behind: the speaker's row of the current model, its earlier enrollments not
    with running_app(ServerConfig(data_dir=tmp_path)) as app:
        api = Api(app.test_client())
        api.enroll_fixture_speaker("alice", voices)
        before = api.identify("conversation.wav", ["alice"]).get_json()
    as_an_older_model_left_them(tmp_path, speakers=False, where="WHERE id > (SELECT MIN(id) FROM enrollments)")
    again = Api(make_app(ServerConfig(data_dir=tmp_path)).test_client()).identify("conversation.wav", ["alice"])
    assert again.get_json() == before
    assert model_versions(tmp_path, "enrollments") == {pipeline.MODEL_VERSION}
