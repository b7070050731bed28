"""When the store cannot be written (a full disk, a read-only or damaged file, a lock held too long): the request
is answered 503 store_unavailable saying so and stores nothing, an answered request stays answered, accepted work
(jobs, owed webhooks) waits for the store instead of being dropped while the server lives, and a store that is
no store stops the start with one line. A store error about the SQL itself stays a bug (500).

The trouble is real: the test holds the SQLite file's write lock from its own connection, as a long transaction
in the sqlite3 shell would, past the server's --store-busy-seconds (0.2 s here, 30 s by default).
"""
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import Api, b64, running_app

from mock_server.core.config import ServerConfig
from mock_server.testing import LiveServer, http_json, wait_until

KEY = "store-trouble"
BUSY = 0.2   # --store-busy-seconds of the servers below


@contextmanager
def locked(db_path):
    """The file's write lock, held by another connection for the block (readers go on: WAL)."""
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        db.execute("ROLLBACK")
        db.close()


def _fault(response) -> dict:
    return response.get_json()["fault"]["detail"]


def test_a_write_the_store_refuses_is_a_503_saying_so_and_stores_nothing(tmp_path, voices):
    with running_app(ServerConfig(data_dir=tmp_path, store_busy_seconds=BUSY)) as app:
        api = Api(app.test_client())
        entry = voices["speakers"]["alice"]["enroll"][0]
        with locked(tmp_path / "speakers.sqlite3"):
            refused = api.enroll("alice", entry["file"])
            assert refused.status_code == 503, refused.get_json()
            error = _fault(refused)
            assert error["code"] == "store_unavailable" and "database is locked" in error["message"]
            assert "speakers.sqlite3" in error["message"] and str(tmp_path) not in error["message"]
            assert api.list().get_json()["enrolled_speaker_ids"] == []      # nothing half-stored; reads go on
        assert api.enroll("alice", entry["file"]).status_code == 200      # the same request, sent again


def test_a_lock_held_elsewhere_delays_a_read_by_the_journals_short_wait_not_the_stores(tmp_path):
    # the journal line after every answer is a write: it waited the whole --store-busy-seconds (30 s by default)
    with running_app(ServerConfig(data_dir=tmp_path, store_busy_seconds=5.0)) as app:
        api = Api(app.test_client())
        with locked(tmp_path / "speakers.sqlite3"):
            started = time.monotonic()
            assert api.list().status_code == 200
            assert time.monotonic() - started < 3.0


def test_the_rate_limiters_file_locked_is_a_503_too(tmp_path):
    with running_app(ServerConfig(data_dir=tmp_path, store_busy_seconds=BUSY, rate_limits=((100, 60.0),))) as app:
        api = Api(app.test_client())
        assert api.list().status_code == 200
        with locked(tmp_path / "ratelimit.sqlite3"):
            refused = api.list()
            assert refused.status_code == 503 and _fault(refused)["code"] == "store_unavailable"
        assert api.list().status_code == 200


def test_an_error_in_the_sql_itself_stays_a_500_not_store_trouble(tmp_path, voices):
    # a trigger whose body overflows an integer: SQLite's generic error, as a bug in our SQL would raise
    with running_app(ServerConfig(data_dir=tmp_path)) as app:
        api = Api(app.test_client())
        with sqlite3.connect(tmp_path / "speakers.sqlite3") as db:
            db.execute("CREATE TRIGGER overflow BEFORE INSERT ON enrollments BEGIN SELECT abs(-9223372036854775808); "
                       "END")
        failed = api.enroll("alice", voices["speakers"]["alice"]["enroll"][0]["file"])
        assert failed.status_code == 500 and _fault(failed)["code"] == "internal_error"


def test_an_answered_enrollment_stays_200_when_its_journal_line_cannot_be_written(tmp_path, voices):
    # The journal is written after the answer is made; its failure turned a committed 200 into a 500, and a
    # client retrying then enrolled the recording twice.
    with running_app(ServerConfig(data_dir=tmp_path)) as app:
        api = Api(app.test_client())
        with sqlite3.connect(tmp_path / "speakers.sqlite3") as db:
            db.execute("CREATE TRIGGER overflow BEFORE INSERT ON journal BEGIN SELECT abs(-9223372036854775808); END")
        answered = api.enroll("alice", voices["speakers"]["alice"]["enroll"][0]["file"])
        assert answered.status_code == 200, answered.get_json()
        assert [s["speaker_id"] for s in api.list().get_json()["enrolled_speaker_ids"]] == ["alice"]


class SlowReceiver:
    """A webhook receiver on loopback that takes 1 s to answer 200, and says when a POST has arrived."""

    def __init__(self):
        self.posts: list[bytes] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.posts.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                receiver.arrived.set()
                time.sleep(1.0)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.live
def test_an_owed_webhook_whose_attempt_cannot_be_recorded_waits_for_the_store_and_is_not_posted_again(tmp_path):
    receiver = SlowReceiver()
    live = LiveServer("--api-key", KEY, "--api-profile", "2019", "--enrollments-required", "1",
                      "--store-busy-seconds", str(BUSY), data_dir=tmp_path).start()
    try:
        api = f"{live.url}/audio/generic/api/v2"
        status, body = http_json("POST", f"{api}/sync/diarization/enroll?apikey={KEY}",
                                 {"content": b64("speakers/alice/enroll1.wav"), "encoding": "WAV",
                                  "speakerId": "alice"})
        assert status == 200, body
        query = urllib.parse.urlencode({"apikey": KEY, "request_id": "owed", "webhook": receiver.url})
        status, body = http_json("POST", f"{api}/async/diarization/identify?{query}",
                                 {"content": b64("alice_short.flac"), "encoding": "FLAC", "speakerIds": ["alice"]})
        assert status == 202, body
        assert receiver.arrived.wait(30)

        def webhook_status():
            return http_json("GET", f"{live.url}/_mock/jobs/owed")[1]["jobs"][0]["webhook_status"]

        with locked(tmp_path / "speakers.sqlite3"):   # while the receiver takes its time to answer 200
            time.sleep(2.5)                             # its answer cannot be recorded: it waits, no new POST
            assert webhook_status() == "pending" and len(receiver.posts) == 1
        wait_until(lambda: webhook_status() == "delivered", timeout=40, interval=0.1,
                   message="the delivery was never recorded once the store was free (it stalled until a restart)")
        assert len(receiver.posts) == 1 and b'"owed"' in receiver.posts[0]
        assert "Trying again until it can be written" in live.log()
    finally:
        assert live.stop() == 0
        receiver.close()


@pytest.mark.parametrize("name, content, said", [
    ("speakers.sqlite3", b"this is not an SQLite file, just text " * 200, "damaged or not SQLite"),
    ("speakers.sqlite3", "speakers (name TEXT)", "of another program or layout"),
    ("ratelimit.sqlite3", "calls (name TEXT)", "of another program or layout"),
])
def test_a_store_file_that_is_no_store_stops_the_start_with_one_line(tmp_path, name, content, said):
    path = tmp_path / name
    if isinstance(content, str):   # another program's SQLite file under the same name
        with sqlite3.connect(path) as db:
            db.execute(f"CREATE TABLE {content}")
    else:
        path.write_bytes(content)
    started = subprocess.run([sys.executable, "-m", "mock_server", "--port", "0", "--no-grpc", "--rate-limit",
                              "5/min", "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert started.returncode == 1
    assert "cannot start" in started.stderr and said in started.stderr, started.stderr
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


@pytest.mark.live
def test_several_processes_leave_no_url_file_either(tmp_path):
    live = LiveServer("--processes", "2", data_dir=tmp_path).start()
    assert list(tmp_path.glob("url-*.txt"))
    assert live.stop() == 0
    assert list(tmp_path.glob("url-*.txt")) == []
