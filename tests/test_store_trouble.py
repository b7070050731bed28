"""When the store fails a write (a full disk, a read-only or damaged file, a lock held too long): the request is
answered 503 saying so and stores nothing, an answered request stays answered, and accepted work (jobs, owed
webhooks) waits for the store instead of being dropped while the server lives.

The failures are real SQLite failures of the server's own file: a trigger whose body overflows an integer fails
every insert it guards with an OperationalError at run time (as a full disk's "database or disk is full" does),
until the test drops it again.
"""
import sqlite3
import subprocess
import sys
import time
import urllib.parse

import pytest
from conftest import Api, b64, running_app

from mock_server.core.config import ServerConfig
from mock_server.testing import LiveServer, http_json, wait_until

KEY = "store-trouble"


def break_inserts(db_path, table: str) -> None:
    """Every insert into ``table`` fails with an OperationalError until heal() (see the module doc)."""
    with sqlite3.connect(db_path) as db:
        db.execute(f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} BEGIN SELECT abs(-9223372036854775808); END")


def heal(db_path, table: str) -> None:
    with sqlite3.connect(db_path) as db:
        db.execute(f"DROP TRIGGER fail_{table}")


def test_a_write_the_store_refuses_is_a_503_saying_so_and_stores_nothing(tmp_path, voices):
    with running_app(ServerConfig(data_dir=tmp_path)) as app:
        api = Api(app.test_client())
        break_inserts(tmp_path / "speakers.sqlite3", "enrollments")
        entry = voices["speakers"]["alice"]["enroll"][0]
        refused = api.enroll("alice", entry["file"])
        assert refused.status_code == 503, refused.get_json()
        error = refused.get_json()["fault"]["detail"]
        assert error["code"] == "store_unavailable" and "could not use its store" in error["message"]
        assert "free disk space" in error["message"]
        assert api.list().get_json()["enrolled_speaker_ids"] == []      # nothing half-stored
        heal(tmp_path / "speakers.sqlite3", "enrollments")
        assert api.enroll("alice", entry["file"]).status_code == 200      # the same request, sent again


def test_an_answered_enrollment_stays_200_when_its_journal_line_cannot_be_written(tmp_path, voices):
    # The journal is written after the answer is made; its failure turned a committed 200 into a 500, and a
    # client retrying then enrolled the recording twice.
    with running_app(ServerConfig(data_dir=tmp_path)) as app:
        api = Api(app.test_client())
        break_inserts(tmp_path / "speakers.sqlite3", "journal")
        entry = voices["speakers"]["alice"]["enroll"][0]
        answered = api.enroll("alice", entry["file"])
        assert answered.status_code == 200, answered.get_json()
        listed = api.list().get_json()["enrolled_speaker_ids"]
        assert [s["speaker_id"] for s in listed] == ["alice"]


@pytest.mark.live
def test_an_owed_webhook_whose_attempt_cannot_be_recorded_waits_for_the_store_and_is_not_posted_again(
        tmp_path, receiver):
    live = LiveServer("--api-key", KEY, "--api-profile", "2019", "--enrollments-required", "1",
                      "--webhook-backoff", "0.05", data_dir=tmp_path).start()
    try:
        api = f"{live.url}/audio/generic/api/v2"
        status, body = http_json("POST", f"{api}/sync/diarization/enroll?apikey={KEY}",
                                 {"content": b64("speakers/alice/enroll1.wav"), "encoding": "WAV",
                                  "speakerId": "alice"})
        assert status == 200, body
        break_inserts(tmp_path / "speakers.sqlite3", "webhook_attempts")
        query = urllib.parse.urlencode({"apikey": KEY, "request_id": "owed", "webhook": f"{receiver.url}/hook"})
        status, body = http_json("POST", f"{api}/async/diarization/identify?{query}",
                                 {"content": b64("alice_short.flac"), "encoding": "FLAC", "speakerIds": ["alice"]})
        assert status == 202, body
        receiver.wait_posts(1)             # POSTed and answered 200, but the outcome cannot be recorded

        def webhook_status():
            return http_json("GET", f"{live.url}/_mock/jobs/owed")[1]["jobs"][0]["webhook_status"]

        time.sleep(1.5)                    # the store is still broken: the outcome waits, nobody POSTs again
        assert webhook_status() == "pending" and len(receiver.posts) == 1
        heal(tmp_path / "speakers.sqlite3", "webhook_attempts")
        wait_until(lambda: webhook_status() == "delivered", timeout=40, interval=0.1,
                   message="the delivery was never recorded after the store healed (it stalled until a restart)")
        assert len(receiver.posts) == 1 and receiver.posts[0].body["request_id"] == "owed"
        assert "Trying again until it can be written" in live.log()
    finally:
        assert live.stop() == 0


def test_a_damaged_store_file_stops_the_start_with_a_message_not_a_traceback(tmp_path):
    (tmp_path / "speakers.sqlite3").write_bytes(b"this is not an SQLite file, just text " * 200)
    started = subprocess.run([sys.executable, "-m", "mock_server", "--port", "0", "--no-grpc", "--data-dir",
                              str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert started.returncode == 1
    assert "cannot start" in started.stderr and "not a database" in started.stderr, started.stderr
    assert "Traceback" not in started.stderr


@pytest.mark.live
def test_a_url_file_is_never_left_naming_a_stopped_server(tmp_path):
    # A CI script waiting for the file (`while [ ! -s url ]`) read the url of an earlier run's server
    url_file = tmp_path / "url.txt"
    url_file.write_text("http://127.0.0.1:1\n")
    server = subprocess.Popen([sys.executable, "-m", "mock_server", "--port", "0", "--no-grpc", "--data-dir",
                               str(tmp_path / "data"), "--url-file", str(url_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = wait_until(lambda: url_file.exists() and url_file.read_text().split()[:1] != ["http://127.0.0.1:1"]
                         and url_file.read_text().split()[:1], timeout=30, message="no url of this server")[0]
        assert http_json("GET", f"{url}/health")[0] == 200
    finally:
        server.terminate()
        assert server.wait(30) == 0
    assert not url_file.exists()
