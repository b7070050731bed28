"""Webhook delivery as the vendor's 2020 docs describe it, over real HTTP to a real local receiver.

A live server process POSTs to a WebhookReceiver scripted to answer 200, 204, 3xx, 500, a slow body or a Basic
auth challenge; what counts is what the receiver saw and what the server recorded (/_mock/webhooks, /_mock/jobs).
"""
import json
import urllib.parse

import pytest
from conftest import b64

from mock_server.core.config import ServerConfig
from mock_server.core.webhooks import backoff_delay, check_webhook_url
from mock_server.testing import LiveServer, Reply, WebhookReceiver, http_json, http_text, wait_until
from mock_server.urls import mask_url

pytestmark = pytest.mark.live  # every test here talks to a mock server process

KEY = "live-webhooks"
STUB = [{"speaker_id": "alice", "start": 0.0, "end": 3.5}]
ATTEMPTS = 3  # the servers below make 3 attempts 0.05 s apart, so a failed delivery settles at once


def _server(tmp_path_factory, *args: str) -> LiveServer:
    live = LiveServer("--webhook-backoff", "0.05", "--webhook-attempts", str(ATTEMPTS), "--webhook-timeout", "1",
                      "--enrollments-required", "1", *args, data_dir=tmp_path_factory.mktemp("webhooks")).start()
    status, body = http_json("POST", f"{live.url}/audio/generic/api/v2/sync/diarization/enroll?apikey={KEY}",
                             {"content": b64("speakers/alice/enroll1.wav"), "encoding": "WAV", "speakerId": "alice"})
    assert status == 200, body
    # The jobs answer with a stub: these tests are about delivery, not about listening.
    assert http_json("POST", f"{live.url}/_mock/stubs", {"apikey": KEY, "response": {"segments": STUB}})[0] == 200
    return live


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = _server(tmp_path_factory)
    yield live
    assert live.stop() == 0


def _submit(server: LiveServer, webhook: str, request_id: str) -> None:
    query = urllib.parse.urlencode({"apikey": KEY, "request_id": request_id, "webhook": webhook})
    status, body = http_json("POST", f"{server.url}/audio/generic/api/v2/async/diarization/identify?{query}",
                             {"content": b64("alice_short.flac"), "encoding": "FLAC", "speakerIds": ["alice"]})
    assert status in (200, 202) and body["request_id"] == request_id, body


def _settled_job(server: LiveServer, request_id: str, timeout: float = 30.0) -> dict:
    """The job once its webhook is delivered or has failed for good (polled: the outcome is only in the store)."""
    def settled():
        status, body = http_json("GET", f"{server.url}/_mock/jobs/{request_id}")
        if status == 200 and body["jobs"][0]["webhook_status"] in ("delivered", "failed"):
            return body["jobs"][0]
        return None

    return wait_until(settled, timeout=timeout, interval=0.05, message=f"job {request_id}'s webhook not settled")


def _attempts(server: LiveServer, request_id: str) -> list[tuple]:
    rows = http_json("GET", f"{server.url}/_mock/webhooks?apikey={KEY}")[1]["webhooks"]
    return sorted((r["attempt"], r["status"], r["error"]) for r in rows if r["request_id"] == request_id)


# --- what counts as delivered ---------------------------------------------------------------------------------

def test_a_200_is_delivered_once(server, receiver):
    _submit(server, f"{receiver.url}/hook", "ok-200")
    assert _settled_job(server, "ok-200")["webhook_status"] == "delivered"
    assert [d.body["request_id"] for d in receiver.posts] == ["ok-200"]
    assert _attempts(server, "ok-200") == [(1, 200, None)]


def test_a_204_is_not_a_delivery_by_default_and_is_retried_until_the_last_attempt(server, receiver):
    receiver.replies["/hook"] = [Reply(204, body=b"")] * ATTEMPTS
    _submit(server, f"{receiver.url}/hook", "no-content")
    job = _settled_job(server, "no-content")
    assert job["webhook_status"] == "failed" and job["attempts"] == ATTEMPTS
    assert [d.status for d in receiver.posts] == [204] * ATTEMPTS
    assert _attempts(server, "no-content") == [(n, 204, "HTTP 204") for n in range(1, ATTEMPTS + 1)]


def test_webhook_success_2xx_takes_a_204(tmp_path_factory, receiver):
    live = _server(tmp_path_factory, "--webhook-success", "2xx")
    try:
        receiver.replies["/hook"] = [Reply(204, body=b"")]
        _submit(live, f"{receiver.url}/hook", "no-content-ok")
        assert _settled_job(live, "no-content-ok")["webhook_status"] == "delivered"
        assert [d.status for d in receiver.posts] == [204]
    finally:
        assert live.stop() == 0


def test_a_500_is_retried_and_the_result_arrives_once(server, receiver):
    receiver.replies["/flaky"] = [Reply(500), Reply(500)]
    _submit(server, f"{receiver.url}/flaky", "flaky")
    assert _settled_job(server, "flaky")["webhook_status"] == "delivered"
    assert [d.status for d in receiver.posts] == [500, 500, 200]
    assert len(receiver.for_request("flaky")) == 1
    assert _attempts(server, "flaky") == [(1, 500, "HTTP 500"), (2, 500, "HTTP 500"), (3, 200, None)]


# --- redirects ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [307, 308])
def test_a_307_or_308_is_followed_with_the_post_and_its_body(server, receiver, status):
    receiver.replies["/moved"] = [Reply(status, {"Location": f"/final-{status}"})]
    _submit(server, f"{receiver.url}/moved", f"moved-{status}")
    assert _settled_job(server, f"moved-{status}")["webhook_status"] == "delivered"
    assert receiver.requests == [("POST", "/moved"), ("POST", f"/final-{status}")]
    first, final = receiver.posts
    assert final.raw == first.raw and final.body["response"]["segments"] == STUB
    assert final.headers["Content-Type"] == "application/json"
    assert _attempts(server, f"moved-{status}") == [(1, 200, None)]


@pytest.mark.parametrize("status", [301, 302, 303])
def test_any_other_redirect_is_a_failed_attempt_never_a_get(server, receiver, status):
    receiver.replies["/found"] = [Reply(status, {"Location": "/elsewhere"})] * ATTEMPTS
    _submit(server, f"{receiver.url}/found", f"found-{status}")
    job = _settled_job(server, f"found-{status}")
    assert job["webhook_status"] == "failed" and job["attempts"] == ATTEMPTS
    assert receiver.requests == [("POST", "/found")] * ATTEMPTS  # no GET, nothing at the Location
    attempts = _attempts(server, f"found-{status}")
    assert [a[1] for a in attempts] == [status] * ATTEMPTS
    assert all("redirect not followed" in a[2] for a in attempts)


def test_a_redirect_keeps_the_credentials_on_the_same_origin_only(server, receiver):
    with WebhookReceiver() as other:
        receiver.replies["/to-self"] = [Reply(307, {"Location": "/self-final"})]
        receiver.replies["/to-other"] = [Reply(308, {"Location": f"{other.url}/other-final"})]
        for path in ("to-self", "to-other"):
            _submit(server, receiver.url.replace("http://", "http://hook-user:pw@") + f"/{path}", path)
            assert _settled_job(server, path)["webhook_status"] == "delivered"
        assert [(d.path, d.auth) for d in other.posts] == [("/other-final", None)]
    assert [(d.path, d.auth) for d in receiver.posts if d.status == 200] == [("/self-final", "hook-user:pw")]


# --- the url: credentials, encoding ---------------------------------------------------------------------------

PASSWORD = "s3cr&t pa:ss-пароль"


def test_user_and_password_in_the_url_go_as_basic_auth_and_are_never_shown(server, receiver):
    receiver.credentials = ("hook-user", PASSWORD)  # anything else gets 401
    webhook = receiver.url.replace("http://", f"http://hook-user:{PASSWORD}@") + "/auth"
    _submit(server, webhook, "with-auth")
    assert _settled_job(server, "with-auth")["webhook_status"] == "delivered"
    (delivery,) = receiver.posts
    assert delivery.status == 200 and delivery.auth == f"hook-user:{PASSWORD}" and delivery.path == "/auth"
    masked = receiver.url.replace("http://", "http://hook-user:***@") + "/auth"
    rows = http_json("GET", f"{server.url}/_mock/webhooks?apikey={KEY}")[1]["webhooks"]
    assert [r["url"] for r in rows if r["request_id"] == "with-auth"] == [masked]
    assert http_json("GET", f"{server.url}/_mock/jobs/with-auth")[1]["jobs"][0]["webhook"] == masked
    shown = {path: _text(f"{server.url}/_mock/{path}") for path in ("webhooks", "jobs/with-auth", "requests", "ui")}
    shown["server log"] = server.log()
    for where, text in shown.items():
        for secret in ("s3cr", urllib.parse.quote(PASSWORD), json.dumps(PASSWORD)[1:-1]):
            assert secret not in text, where


def test_a_wrong_password_is_refused_by_the_receiver_and_retried(server, receiver):
    receiver.credentials = ("hook-user", "right")
    _submit(server, receiver.url.replace("http://", "http://hook-user:wrong@") + "/auth", "wrong-auth")
    assert _settled_job(server, "wrong-auth")["webhook_status"] == "failed"
    assert [(d.status, d.auth) for d in receiver.posts] == [(401, "hook-user:wrong")] * ATTEMPTS


def test_spaces_and_non_ascii_in_the_webhook_are_percent_encoded(server, receiver):
    _submit(server, f"{receiver.url}/hooks/café résumé?tag=naïve x&n=1", "encoded")
    assert _settled_job(server, "encoded")["webhook_status"] == "delivered"
    assert [d.path for d in receiver.posts] == ["/hooks/caf%C3%A9%20r%C3%A9sum%C3%A9?tag=na%C3%AFve%20x&n=1"]


# --- the status line is the answer ----------------------------------------------------------------------------

def test_a_slow_body_after_a_200_status_line_is_delivered_once(server, receiver):
    # Each body byte comes after 2 s, past the server's 1 s --webhook-timeout: waiting for the body would
    # time out and POST the result again.
    receiver.replies["/slow"] = [Reply(200, body=b"accepted", byte_delay=2.0)]
    _submit(server, f"{receiver.url}/slow", "slow-body")
    assert _settled_job(server, "slow-body")["webhook_status"] == "delivered"
    assert len(receiver.for_request("slow-body")) == 1
    assert _attempts(server, "slow-body") == [(1, 200, None)]


@pytest.mark.parametrize("stuck", ["another host, a path per job", "the same host, another path"])
def test_a_receiver_that_never_answers_does_not_hold_back_another_ones_webhook(tmp_path_factory, stuck):
    """24 jobs POST to a receiver that never answers (each attempt waits out the 1 s --webhook-timeout): a socket
    on another host:port (a path of its own per job), or /hang on the prompt receiver's own host. A webhook
    submitted after them still arrives at once: one host holds at most jobs.PER_HOST of the delivery threads and
    one url jobs.PER_RECEIVER (with two threads shared by all, it waited ~12 s)."""
    import http.server
    import socket
    import threading
    import time

    prompt: list[float] = []
    release = threading.Event()

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            if self.path.startswith("/hang"):
                release.wait(30)                         # never answers while the test runs
                return
            prompt.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    receiver.daemon_threads = True
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hanging = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    threading.Thread(target=lambda: [held.append(hanging.accept()[0]) for _ in iter(int, 1)], daemon=True).start()
    own = f"http://127.0.0.1:{receiver.server_address[1]}"
    live = _server(tmp_path_factory, "--drain-seconds", "1")
    try:
        for n in range(24):
            url = f"http://127.0.0.1:{hanging.getsockname()[1]}/hook/{n}" if stuck.startswith("another") \
                else f"{own}/hang"
            _submit(live, url, f"stuck-{n}")
        submitted = time.monotonic()
        _submit(live, f"{own}/ok", "prompt")
        wait_until(lambda: prompt, timeout=60, message="the prompt receiver's webhook")
        waited = prompt[0] - submitted
    finally:
        live.stop()
        release.set()
        receiver.shutdown()
        receiver.server_close()
        hanging.close()
        for connection in held:
            connection.close()
    assert waited < 2.0, waited


# --- the schedule and the url checks (no server) --------------------------------------------------------------

def test_the_default_schedule_is_5_attempts_that_ride_out_a_30_s_outage():
    config = ServerConfig()
    assert config.webhook_attempts == 5 and config.webhook_success == "200"
    gaps = [backoff_delay(n, first=config.webhook_backoff_seconds, maximum=config.webhook_backoff_max_seconds)
            for n in range(1, config.webhook_attempts)]
    assert gaps == sorted(gaps) and gaps[-1] == 2 * gaps[-2]  # exponential
    assert sum(gaps) > 30.0  # the last attempt comes after a receiver down for 30 s from the first one is back


@pytest.mark.parametrize("url,expected", [
    ("http://h:8080/a b/é?q=x y", "http://h:8080/a%20b/%C3%A9?q=x%20y"),
    ("HTTPS://h/already%20encoded", "https://h/already%20encoded"),
    ("http://u:p w@h/x", "http://u:p%20w@h/x"),
    ("http://bücher.example/x", "http://xn--bcher-kva.example/x"),
    ("http://[::1]:9/x", "http://[::1]:9/x"),
    ("http://u:p@h/h%0A", "http://u:p@h/h%0A"),  # an encoded newline is part of the path, not a control character
])
def test_webhook_urls_are_encoded_once(url, expected):
    assert check_webhook_url(url) == expected


@pytest.mark.parametrize("url,expected", [
    ("http://u:p@h/x", "http://u:***@h/x"),
    ("http://token@h/x", "http://***@h/x"),
    ("http://h/x?u=a@b", "http://h/x?u=a@b"),
])
def test_mask_url_hides_passwords_and_bare_tokens(url, expected):
    assert mask_url(url) == expected


def _text(url: str) -> str:
    status, text = http_text("GET", url, timeout=30)
    assert status == 200, text[:500]
    return text


@pytest.mark.parametrize("webhook,problem", [
    ("ftp://user:s3cret@127.0.0.1/h", "must be an absolute http:// or https:// url"),
    ("http://user:s3cret@127.0.0.1:99999/h", "must be an absolute http:// or https:// url"),
    ("http://user:pa/ss@127.0.0.1/h", "must be an absolute http:// or https:// url"),  # "/" in the password
    ("user:s3cret@127.0.0.1/h", "must be an absolute http:// or https:// url"),       # no scheme at all
    ("//user:s3cret@127.0.0.1/h", "must be an absolute http:// or https:// url"),     # scheme-relative
])
def test_a_refused_webhook_names_the_problem_without_its_password(enrolled_api, webhook, problem):
    response = enrolled_api.identify("alice_short.flac", ["alice"], mode="async",
                                     query={"webhook": urllib.parse.quote(webhook, safe="")})
    error = response.get_json()["fault"]["detail"]
    assert response.status_code == 400 and error["code"] == "invalid_url"
    assert problem in error["message"] and "webhook" in error["message"]
    assert "s3cret" not in response.get_data(as_text=True) and "ss@" not in response.get_data(as_text=True)
    assert "***@" in error["message"]


def test_port_0_is_refused_at_submission_for_a_webhook_and_an_audio_url(enrolled_api):
    # urlsplit reads port 0 as "no port", so the webhook would have been accepted and then POSTed to port 80.
    response = enrolled_api.identify("alice_short.flac", ["alice"], mode="async",
                                     query={"webhook": urllib.parse.quote("http://127.0.0.1:0/hook", safe=""),
                                            "request_id": "port-zero"})
    error = response.get_json()["fault"]["detail"]
    assert response.status_code == 400 and error["code"] == "invalid_url", error
    assert "webhook" in error["message"] and "invalid port" in error["message"]
    jobs = enrolled_api.client.get("/_mock/jobs/port-zero", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert jobs.status_code == 404  # nothing was queued
    # The same shared check refuses an audio url on port 0 (it would have been fetched from port 80).
    response = enrolled_api.client.post(enrolled_api.url("sync/diarization/identify"),
                                        json={"url": "http://127.0.0.1:0/clip.flac", "speakerIds": ["alice"]})
    error = response.get_json()["fault"]["detail"]
    assert response.status_code == 400 and error["code"] == "invalid_url", error
    assert error["message"].startswith("url ") and "invalid port" in error["message"]


class _Stalling:
    """A raw socket host on loopback that takes a request, then answers '100 Continue' every 0.2 s without end
    (http.client skips any number of them), or sends a status line and then one header byte every 0.2 s."""

    def __init__(self, how: str):
        import socket
        import threading
        self.how, self.requests, self.stop = how, 0, threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._stall, args=(connection,), daemon=True).start()

    def _stall(self, connection):
        import time
        with connection:
            try:
                connection.recv(65536)
                self.requests += 1
                if self.how == "early-hints":   # an interim answer, then the final one
                    connection.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                                       b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    return
                if self.how == "redirect-then-continue":   # a 307 on a kept-alive connection, then stalling
                    connection.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /second\r\n"
                                       b"Content-Length: 0\r\n\r\n")
                    connection.recv(65536)
                    self.requests += 1
                if self.how == "headers":
                    connection.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self.stop.is_set():
                    connection.sendall(b"X" if self.how == "headers" else b"HTTP/1.1 100 Continue\r\n\r\n")
                    time.sleep(0.2)
            except OSError:
                return

    def close(self):
        self.stop.set()
        self.listener.close()


@pytest.mark.parametrize("how", ["continue", "headers", "redirect-then-continue"])
def test_a_receiver_that_never_finishes_its_headers_is_a_failed_attempt_within_the_timeout(server, how):
    # requests' timeout bounds each wait for the socket: endless '100 Continue' or headers dripping a byte at a time
    # held a delivery thread for ever, its webhook 'pending' with 0 attempts (outbound.deadline cuts them now)
    stalling = _Stalling(how)
    try:
        _submit(server, f"{stalling.url}/hook", f"stalled-{how}")
        job = _settled_job(server, f"stalled-{how}", timeout=20)
        if how != "headers":    # never a final status line (the redirect's second hop reuses the connection)
            assert job["webhook_status"] == "failed" and job["attempts"] == ATTEMPTS, job
            assert all("within the timeout (--webhook-timeout)" in a[2]
                       for a in _attempts(server, f"stalled-{how}"))
        else:                   # its status line said 200, the answer that counts; the headers were cut short
            assert job["webhook_status"] == "delivered" and job["attempts"] == 1, job
    finally:
        stalling.close()


@pytest.mark.parametrize("how", ["continue", "headers"])
def test_an_audio_host_that_never_finishes_its_headers_is_given_up_at_the_url_timeout(how):
    import time
    stalling = _Stalling(how)
    try:
        with LiveServer("--url-timeout", "1", "--no-grpc") as live:
            started = time.monotonic()
            status, body = http_json("POST", f"{live.url}/audio/generic/api/v2/sync/diarization/enroll?apikey=k",
                                     {"url": f"{stalling.url}/clip.wav", "speakerId": "alice"}, timeout=30)
            took = time.monotonic() - started
        assert status == 400 and body["fault"]["detail"]["code"] == "url_fetch_failed", body
        assert "--url-timeout" in body["fault"]["detail"]["message"] and took < 5, (took, body)
    finally:
        stalling.close()


def test_webhooks_take_no_credentials_or_proxy_from_the_environment(tmp_path_factory, tmp_path):
    # requests reads ~/.netrc and *_PROXY unless told not to: the webhook POST carried the netrc password for the
    # receiver's host, and a proxy meant for the outside world caught loopback receivers (audio urls never did)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text("machine 127.0.0.1 login me password NETRC_SECRET\n")
    (home / ".netrc").chmod(0o600)
    env = {"HOME": str(home), "HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9",
           "NO_PROXY": "", "no_proxy": ""}
    with WebhookReceiver() as receiver:
        live = LiveServer("--webhook-backoff", "0.05", "--webhook-attempts", "2", "--enrollments-required", "1",
                          data_dir=tmp_path_factory.mktemp("webhooks-env"), env=env).start()
        try:
            assert http_json("POST", f"{live.url}/_mock/stubs", {"apikey": KEY, "response": {"segments": STUB}})[0] \
                == 200
            _submit(live, f"{receiver.url}/hook", "no-env")
            assert _settled_job(live, "no-env")["webhook_status"] == "delivered"
        finally:
            live.stop()
        assert [d.auth for d in receiver.posts] == [None]


def test_an_interim_103_before_the_200_is_one_delivery(server):
    # http.client took '103 Early Hints' (or '102 Processing') for the answer: a failed attempt, and the result
    # POSTed again to a receiver that had accepted it each time
    stalling = _Stalling("early-hints")
    try:
        _submit(server, f"{stalling.url}/hook", "early-hints")
        job = _settled_job(server, "early-hints")
        assert job["webhook_status"] == "delivered" and stalling.requests == 1, job
        assert _attempts(server, "early-hints") == [(1, 200, None)]
    finally:
        stalling.close()
