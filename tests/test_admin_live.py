"""Admin faults against a live server process: failed, refused and delayed webhook deliveries, slow API calls."""
import time

import pytest
from conftest import b64

from mock_server.testing import LiveServer, WebhookReceiver, http_json, wait_until

KEY = "live-admin"
STUB = [{"speaker_id": "alice", "start": 0.0, "end": 3.5}]

pytestmark = pytest.mark.live  # every test here talks to a mock server process


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer("--webhook-backoff", "0.05", "--webhook-attempts", "3", "--complete-speech", "6",
                      data_dir=tmp_path_factory.mktemp("admin-live")).start()
    status, _ = http_json("POST", f"{live.url}/audio/generic/api/v2/sync/diarization/enroll?apikey={KEY}",
                      {"content": b64("speakers/alice/enroll1.wav"), "encoding": "WAV", "speakerId": "alice"})
    assert status == 200
    # The jobs answer with a stub: these tests are about delivery, not about listening.
    assert http_json("POST", f"{live.url}/_mock/stubs", {"apikey": KEY, "response": {"segments": STUB}})[0] == 200
    yield live
    assert live.stop() == 0


@pytest.fixture
def receiver(server):
    with WebhookReceiver() as r:
        yield r
    http_json("DELETE", f"{server.url}/_mock/faults")


def _submit(server, receiver, request_id):
    status, body = http_json("POST", f"{server.url}/audio/generic/api/v2/async/diarization/identify?apikey={KEY}"
                                 f"&webhook={receiver.url}/hook&request_id={request_id}",
                         {"content": b64("alice_short.flac"), "encoding": "FLAC", "speakerIds": ["alice"]})
    assert status == 202, body


def _settled_job(server, request_id, timeout=30.0):
    """The job once its webhook is delivered or has failed for good (polled: the outcome is only in the store)."""
    def settled():
        status, body = http_json("GET", f"{server.url}/_mock/jobs/{request_id}")
        if status == 200 and body["jobs"][0]["webhook_status"] in ("delivered", "failed"):
            return body["jobs"][0]
        return None

    return wait_until(settled, timeout=timeout, interval=0.05, message=f"job {request_id}'s webhook not settled")


def _attempts(server, request_id):
    rows = http_json("GET", f"{server.url}/_mock/webhooks?apikey={KEY}")[1]["webhooks"]
    return sorted(((r["attempt"], r["status"], r["error"]) for r in rows if r["request_id"] == request_id))


def test_failed_deliveries_are_retried_until_the_fault_is_used_up(server, receiver):
    status, body = http_json("POST", f"{server.url}/_mock/faults",
                         {"target": "webhook", "times": 2, "status": 503, "match": {"request_id": "r-503"}})
    assert status == 200 and body["fault"]["target"] == "webhook"
    _submit(server, receiver, "r-503")
    delivery = receiver.wait_for("r-503", timeout=30)
    assert delivery.body == {"request_id": "r-503", "response": {"segments": STUB}}
    assert len(receiver.for_request("r-503")) == 1
    assert _settled_job(server, "r-503")["attempts"] == 3
    assert _attempts(server, "r-503") == [(1, 503, "HTTP 503 (injected fault)"), (2, 503, "HTTP 503 (injected fault)"),
                                          (3, 200, None)]


def test_a_refused_connection_then_a_real_delivery(server, receiver):
    http_json("POST", f"{server.url}/_mock/faults", {"target": "webhook", "error": "connection",
                                                "match": {"apikey": KEY}})
    _submit(server, receiver, "r-conn")
    receiver.wait_for("r-conn", timeout=30)
    _settled_job(server, "r-conn")
    (first, second) = _attempts(server, "r-conn")
    assert first[:2] == (1, None) and "injected" in first[2] and second == (2, 200, None)


def test_a_4xx_is_retried_like_any_answer_but_200_then_delivery_stops(server, receiver):
    # The vendor: "anything other than HTTP 200 from the webhook is retried"; this server makes 3 attempts.
    http_json("POST", f"{server.url}/_mock/faults", {"target": "webhook", "status": 410, "times": 5})
    _submit(server, receiver, "r-410")
    job = _settled_job(server, "r-410")
    assert job["webhook_status"] == "failed" and job["attempts"] == 3
    assert receiver.for_request("r-410") == []
    faults = http_json("GET", f"{server.url}/_mock/faults")[1]["faults"]
    assert [f["times"] for f in faults] == [2]


def test_retries_give_up_after_the_last_attempt(server, receiver):
    http_json("POST", f"{server.url}/_mock/faults", {"target": "webhook", "error": "timeout", "times": 10})
    _submit(server, receiver, "r-timeout")
    job = _settled_job(server, "r-timeout")
    assert job["webhook_status"] == "failed" and job["attempts"] == 3
    assert [a[0] for a in _attempts(server, "r-timeout")] == [1, 2, 3] and receiver.for_request("r-timeout") == []


def test_a_delayed_delivery_still_arrives(server, receiver):
    http_json("POST", f"{server.url}/_mock/faults", {"target": "webhook", "delay_ms": 400})
    started = time.time()
    _submit(server, receiver, "r-slow")
    delivery = receiver.wait_for("r-slow", timeout=30)
    assert delivery.time - started >= 0.4
    _settled_job(server, "r-slow")  # the attempt is recorded just after the receiver answered
    assert _attempts(server, "r-slow") == [(1, 200, None)]


def test_a_delayed_api_call_over_real_http(server):
    http_json("POST", f"{server.url}/_mock/faults", {"match": {"path": "get_enrolled", "apikey": KEY}, "delay_ms": 300})
    started = time.monotonic()
    status, body = http_json("GET", f"{server.url}/audio/generic/api/v1/sync/diarization/get_enrolled_speakers"
                                f"?apikey={KEY}")
    assert status == 200 and time.monotonic() - started >= 0.3
    assert [s["speaker_id"] for s in body["enrolled_speaker_ids"]] == ["alice"]


@pytest.mark.parametrize("taken", ["port", "port, two processes", "grpc port"])
def test_a_second_server_that_cannot_listen_leaves_the_first_ones_state_alone(server, taken):
    # run twice by mistake (scripts/serve in a second terminal): the second server used to clear the first's faults,
    # stubs and journal and remove its url file before it found the port taken
    stubs = http_json("GET", f"{server.url}/_mock/stubs")[1]
    url_files = sorted(server.data_dir.glob("url-*.txt"))
    assert stubs["stubs"] and url_files
    args = {"port": ("--port", server.url.rsplit(":", 1)[1], "--no-grpc"),
            "port, two processes": ("--port", server.url.rsplit(":", 1)[1], "--processes", "2"),
            "grpc port": ("--grpc-port", server.grpc_target.rsplit(":", 1)[1])}[taken]
    second = LiveServer(*args, data_dir=server.data_dir)
    with pytest.raises(RuntimeError) as error:
        second.start()
    second.close()
    said = str(error.value).rsplit("mock server exited with", 1)[1]
    if taken == "grpc port":
        assert said.startswith(" 2") and "cannot listen for gRPC" in said and "--no-grpc" in said, said
    else:
        assert said.startswith(" 1") and "cannot start: cannot listen on 127.0.0.1:" in said, said
        assert "choose another --port" in said and "Traceback" not in said, said
    assert http_json("GET", f"{server.url}/_mock/stubs")[1] == stubs
    assert [p for p in sorted(server.data_dir.glob("url-*.txt")) if p.exists()] == url_files
