"""Shared test set-up: a fresh app per test over a real SQLite file, and an actions helper that reads like the API."""
from __future__ import annotations

import base64
import json
import re
import threading
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from mock_server.app import create_app, state_of
from mock_server.core.config import ServerConfig

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ENROLLED = ("alice", "bob", "carol", "dave")
CHROMIUM = Path("/usr/bin/chromium")  # Debian's; what the tests marked "browser" run (.ci/run installs it)


# --- markers (registered in setup.cfg) and what must not be skipped ------------------------------------------

def pytest_addoption(parser):
    parser.addoption("--no-skips", action="store_true",
                     help="fail every test that would be skipped (a missing program or package): CI runs them all")


def pytest_runtest_setup(item):
    if item.get_closest_marker("browser") and not CHROMIUM.exists():
        pytest.skip(f"needs Chromium at {CHROMIUM} (apt-get install chromium chromium-driver; .ci/run does)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.config.getoption("--no-skips") and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under --no-skips: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and collector.config.getoption("--no-skips"):  # a whole module skipped (importorskip)
        report.outcome = "failed"
        report.longrepr = f"skipped under --no-skips: {report.longrepr}"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_samples(name: str):
    """A fixture decoded to pipeline samples (mono float32, 16 kHz), exactly as the server decodes an upload."""
    from mock_server.audio import decode_audio
    return decode_audio(fixture_bytes(name), encoding=None, sample_rate=None, target_rate=16000, max_seconds=7200.0)


def fixture_speech(name: str):
    """fixture_samples from the start of the first speech region to the end of the last (edge silence cut)."""
    from mock_server.pipeline import speech_regions
    x = fixture_samples(name)
    regions = speech_regions(x)
    return x[int(regions[0][0] * 16000):int(regions[-1][1] * 16000)]


def b64(name: str) -> str:
    return base64.b64encode(fixture_bytes(name)).decode("ascii")


@pytest.fixture(scope="session")
def voices() -> dict:
    """fixtures/voices.json: speakers, their enrollment files and the test clips with ground truth."""
    return json.loads((FIXTURES / "voices.json").read_text())


class Api:
    """Calls the mock's endpoints through a Flask test client, the way a client of the vendor's API would."""

    def __init__(self, client, key: str = "test-key", version: str = "v2"):
        self.client = client
        self.key = key
        self.version = version

    def url(self, path: str, **query) -> str:
        query.setdefault("apikey", self.key)
        qs = "&".join(f"{k}={v}" for k, v in query.items() if v is not None)
        return f"/audio/generic/api/{self.version}/{path}" + (f"?{qs}" if qs else "")

    def enroll(self, speaker_id: str, file: str, **body):
        body = {"content": b64(file), "encoding": _encoding(file), "sampleRate": 16000, "languageCode": "en-US",
                "speakerId": speaker_id, **body}
        return self.client.post(self.url("sync/diarization/enroll"), json=body)

    def enroll_fixture_speaker(self, speaker_id: str, voices: dict):
        for entry in voices["speakers"][speaker_id]["enroll"]:
            response = self.enroll(speaker_id, entry["file"])
            assert response.status_code == 200, response.get_json()
        return response

    def identify(self, file: str, speaker_ids: list[str], *, mode: str = "sync", query: dict | None = None,
                 **body):
        body = {"content": b64(file), "encoding": _encoding(file), "sampleRate": 16000, "languageCode": "en-US",
                "speakerIds": speaker_ids, **body}
        return self.client.post(self.url(f"{mode}/diarization/identify", **(query or {})), json=body)

    def list(self, *, every: bool = True):
        """get_enrolled_speakers; ``every`` asks for incomplete speakers too (getAllSpeakers=True, 2020 docs)."""
        query = {"getAllSpeakers": "True"} if every else {}
        return self.client.get(self.url("sync/diarization/get_enrolled_speakers", **query))

    def delete(self, speaker_id: str):
        return self.client.post(self.url("sync/diarization/delete"), json={"speakerId": speaker_id})


def _encoding(file: str) -> str:
    suffix = Path(file).suffix.lower().lstrip(".")
    return {"raw": "LINEAR16"}.get(suffix, suffix.upper())


# --- apps that always stop what they start -----------------------------------------------------------------

def stop_app(app, timeout: float = 10.0) -> None:
    """Stop the app's job runner (its worker threads) and close its store; safe on an app never started."""
    state_of(app).close(timeout=timeout)


@contextmanager
def running_app(config: ServerConfig, *, start_workers: bool = True):
    """``create_app(config)`` for the duration of a ``with`` block, stopped and closed however the block ends."""
    app = create_app(config, start_workers=start_workers)
    try:
        yield app
    finally:
        stop_app(app)


@pytest.fixture
def make_app():
    """A factory: ``make_app(config, start_workers=True)`` gives a new app, stopped when the test ends."""
    with ExitStack() as stack:
        yield lambda config, **kwargs: stack.enter_context(running_app(config, **kwargs))


# The threads JobRunner.start() names (core/jobs.py); any alive at the end of the session were never stopped.
RUNNER_THREAD = re.compile(r"(job-worker-\d+|webhook-\d+|job-leases)")


@pytest.fixture(scope="session", autouse=True)
def no_stray_job_runner_threads():
    """Fails the session when a test left a job runner's threads running (an app not made through make_app,
    running_app or the app fixtures)."""
    yield
    stray = [t for t in threading.enumerate() if RUNNER_THREAD.fullmatch(t.name)]
    for thread in stray:
        thread.join(5)  # a runner stopping at the very end may still be finishing its last loop
    stray = [t.name for t in stray if t.is_alive()]
    assert not stray, f"job runner threads left running by the tests: {stray}"


@pytest.fixture
def config(tmp_path) -> ServerConfig:
    return ServerConfig(data_dir=tmp_path / "data")


@pytest.fixture
def app(config, make_app):
    return make_app(config)


@pytest.fixture
def receiver():
    """A real webhook endpoint on 127.0.0.1 (mock_server.testing.WebhookReceiver), closed after the test."""
    from mock_server.testing import WebhookReceiver
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(client) -> Api:
    return Api(client)


@pytest.fixture(scope="session")
def enrolled_db(tmp_path_factory, voices) -> Path:
    """A data dir with the four fixture voices enrolled under "test-key", made once and copied per test."""
    data = tmp_path_factory.mktemp("enrolled")
    with running_app(ServerConfig(data_dir=data), start_workers=False) as app:
        api = Api(app.test_client())
        for speaker in ENROLLED:
            api.enroll_fixture_speaker(speaker, voices)
    return data


@pytest.fixture
def enrolled_api(tmp_path, enrolled_db, make_app) -> Api:
    """An Api over a fresh copy of ``enrolled_db``: alice, bob, carol and dave are complete speakers."""
    import shutil
    data = tmp_path / "data"
    shutil.copytree(enrolled_db, data)
    return Api(make_app(ServerConfig(data_dir=data)).test_client())
