"""Fuzz the app against its own /openapi.json with schemathesis: no 5xx, and every answer fits its schema.

A bounded number of generated requests per operation (``FUZZ_EXAMPLES``) keeps this quick. Generated urls and
webhooks are pointed at a local receiver, so nothing leaves loopback; faults and stubs a generated admin call
arms are cleared after each case, so one case cannot make the next fail on purpose.
"""
from __future__ import annotations

import os
import sys
import tempfile
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import pytest
import schemathesis
from conftest import running_app
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from mock_server.core.config import ServerConfig
from mock_server.testing import WebhookReceiver

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))   # generated requests per operation, at most
RAN: Counter = Counter()                                    # operation -> cases sent
STATUSES: Counter = Counter()                               # status -> answers that passed the checks


@pytest.fixture(scope="module")
def receiver():
    with WebhookReceiver() as r:
        yield r


# schemathesis reads the document when the module loads (its from_fixture loader does not run under this
# pytest), so the app under test is made then too, over a temporary data dir removed after the module.
_APP_LIFETIME = ExitStack()  # closed by the fuzz_app fixture once the module's tests are done
_DATA = _APP_LIFETIME.enter_context(tempfile.TemporaryDirectory(prefix="speaker-id-mock-fuzz-"))
# No workers: a generated async request can only queue a job, and its audio would be noise anyway.
APP = _APP_LIFETIME.enter_context(running_app(
    ServerConfig(data_dir=Path(_DATA), max_body_bytes=256 * 1024, url_timeout_seconds=2.0), start_workers=False))
schema = schemathesis.openapi.from_wsgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def fuzz_app():
    yield APP
    _APP_LIFETIME.close()
    total = sum(RAN.values())
    print(f"\nschemathesis: {total} requests over {len(RAN)} operations "
          f"(at most {FUZZ_EXAMPLES} generated per operation); statuses {dict(sorted(STATUSES.items()))}",
          file=sys.__stderr__)


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_answers_fit_the_document(case, fuzz_app, receiver):
    _keep_on_loopback(case, receiver.url)
    RAN[case.operation.label] += 1
    try:
        # werkzeug's plain test client sets no client address; ours is loopback, as the admin API requires.
        response = case.call_and_validate(headers={"apikey": "fuzz-key"}, environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                          checks=[not_a_server_error, response_schema_conformance])
    finally:
        client = fuzz_app.test_client()
        client.delete("/_mock/faults")
        client.delete("/_mock/stubs")
    STATUSES[response.status_code] += 1


def _keep_on_loopback(case, base: str) -> None:
    """Point generated audio urls and webhooks at the local receiver (it answers 404 for audio, 200 for POSTs)."""
    if isinstance(case.body, dict) and "url" in case.body:
        case.body["url"] = f"{base}/audio.wav"
    if isinstance(case.query, dict) and "webhook" in case.query:
        case.query["webhook"] = f"{base}/hook"
