"""Shared test set-up: a fresh app per test over a real SQLite file, and an actions helper that reads like the API."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from mock_server.app import create_app, state_of
from mock_server.core.config import ServerConfig

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ENROLLED = ("alice", "bob", "carol", "dave")


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


@pytest.fixture
def config(tmp_path) -> ServerConfig:
    return ServerConfig(data_dir=tmp_path / "data")


@pytest.fixture
def app(config):
    app = create_app(config)
    yield app
    state_of(app).close()


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
    app = create_app(ServerConfig(data_dir=data), start_workers=False)
    api = Api(app.test_client())
    for speaker in ENROLLED:
        api.enroll_fixture_speaker(speaker, voices)
    state_of(app).store.close()
    return data


@pytest.fixture
def enrolled_api(tmp_path, enrolled_db) -> Api:
    """An Api over a fresh copy of ``enrolled_db``: alice, bob, carol and dave are complete speakers."""
    import shutil
    data = tmp_path / "data"
    shutil.copytree(enrolled_db, data)
    app = create_app(ServerConfig(data_dir=data))
    yield Api(app.test_client())
    state_of(app).runner.stop(timeout=5)
