"""api/meta.py: the mock's own /health route and its one log line per request, on the app create_app wires."""
from __future__ import annotations

import logging
import re

from mock_server import __version__

LINE = re.compile(r"(GET|POST) (\S+) -> (\d{3}) in \d+\.\d ms")


def test_health_answers_status_version_and_uptime(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert list(body) == ["status", "version", "uptime_seconds"]
    assert body["status"] == "ok" and body["version"] == __version__
    assert isinstance(body["uptime_seconds"], float) and 0 <= body["uptime_seconds"] < 60


def test_every_request_is_logged_with_its_path_status_and_duration_but_never_its_query(client, caplog):
    with caplog.at_level(logging.INFO, logger="mock_server"):
        client.get("/health")
        client.get("/audio/generic/api/v2/sync/diarization/get_enrolled_speakers?apikey=s3cret-key")
        client.post("/no/such/route?apikey=s3cret-key")
    lines = [r.getMessage() for r in caplog.records if r.name == "mock_server"]
    assert [LINE.fullmatch(line).groups() for line in lines] == [
        ("GET", "/health", "200"),
        ("GET", "/audio/generic/api/v2/sync/diarization/get_enrolled_speakers", "200"),
        ("POST", "/no/such/route", "404"),
    ]
    assert not any("s3cret" in line for line in lines)
