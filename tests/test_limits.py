"""Limits: body size (refused before it is read), audio length, url downloads, url schemes, the async queue."""
from __future__ import annotations

import base64
import json
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import Api, b64, fixture_bytes

from mock_server.core.config import ServerConfig
from mock_server.testing import LiveServer, WebhookReceiver, http_json

ENROLL = "/audio/generic/api/v2/sync/diarization/enroll?apikey=k"


class AudioHost:
    """A loopback HTTP server with misbehaving audio urls: huge, endless, slow, redirecting, or held back."""

    def __init__(self):
        self.release = threading.Event()   # /held answers only once this is set
        self.hold_seconds = 30.0           # ... or after this long
        self.held = threading.Event()      # set when a GET /held arrived
        self.held_count = 0
        self.slow_bytes_sent = 0           # bytes /slow has written so far
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                try:
                    self._get()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the mock hung up on us, as it should

            def _get(self):
                if self.path == "/huge":  # declares 10 GB
                    self.send_response(200)
                    self.send_header("Content-Length", str(10 * 2**30))
                    self.end_headers()
                    self.wfile.write(b"\0" * 65536)
                elif self.path == "/endless":  # no length, streams until the client hangs up
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for _ in range(10_000):
                        self.wfile.write(b"\0" * 65536)
                elif self.path == "/slow":  # trickles a byte every 0.2 s, for ever
                    self.send_response(200)
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    for _ in range(1000):
                        self.wfile.write(b"R")
                        self.wfile.flush()
                        host.slow_bytes_sent += 1
                        time.sleep(0.2)
                elif self.path == "/slow-close":  # no length: the body ends when the connection closes, in 4 s
                    data = fixture_bytes("speakers/alice/enroll1.wav")
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    step = len(data) // 20
                    for i in range(0, len(data), step):
                        self.wfile.write(data[i:i + step])
                        self.wfile.flush()
                        time.sleep(0.2)
                    self.close_connection = True
                elif self.path == "/to-ftp":
                    self.send_response(302)
                    self.send_header("Location", "ftp://127.0.0.1/clip.wav")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path.startswith("/held"):
                    host.held_count += 1
                    host.held.set()
                    host.release.wait(host.hold_seconds)
                    data = fixture_bytes("speakers/alice/enroll1.wav")  # enough speech to enroll (2020)
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def audio_host():
    host = AudioHost()
    yield host
    host.close()


@pytest.fixture
def limited_api(tmp_path, make_app):
    """A factory: ``limited_api(**settings)`` is an Api (key "k") over a new app with those ServerConfig settings."""
    return lambda **settings: Api(make_app(ServerConfig(data_dir=tmp_path / "data", **settings)).test_client(), key="k")


# --- request body size ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    live = LiveServer("--max-body-mb", "1", data_dir=tmp_path_factory.mktemp("limits")).start()
    yield live
    assert live.stop() == 0


# Raw sockets for the body-limit tests, not http_json: they send what no HTTP client would (a Content-Length of
# 10 GB with no body, Expect: 100-continue, a chunked body cut short) and watch when the server answers or hangs up.
def _connect(server: LiveServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _read_response(sock: socket.socket) -> tuple[int, dict, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


@pytest.mark.live
def test_a_huge_content_length_is_refused_at_once_without_reading_the_body(small_server):
    with _connect(small_server) as sock:  # a server awaiting the body would make the read time out (10 s)
        sock.sendall(b"POST " + ENROLL.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 10737418240\r\n\r\n{\"a\"")
        status, headers, body = _read_response(sock)  # 10 GB never sent: an answer proves nothing was awaited
    assert status == 413 and headers["content-type"] == "application/json"
    error = json.loads(body)["fault"]["detail"]
    assert error["code"] == "payload_too_large" and "--max-body-mb" in error["message"]


@pytest.mark.live
def test_a_client_expecting_100_continue_gets_the_413_instead(small_server):
    """A client that sends ``Expect: 100-continue`` (curl does for large bodies) waits for the server's go-ahead
    before it uploads: a body too large by its Content-Length gets the 413 then, and is never sent."""
    with _connect(small_server) as sock:
        sock.sendall(b"POST " + ENROLL.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Expect: 100-continue\r\nContent-Length: 10485760\r\n\r\n")
        status, headers, body = _read_response(sock)
    assert status == 413 and json.loads(body)["fault"]["detail"]["code"] == "payload_too_large"


@pytest.mark.live
def test_a_chunked_body_is_cut_off_at_the_limit(small_server):
    chunk = b"x" * 65536
    sent = 0
    with _connect(small_server) as sock:
        sock.sendall(b"POST " + ENROLL.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        while sent < 64 * 2**20:  # 64 MB offered against a 1 MB limit
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        status, headers, body = _read_response(sock)
    # What got "sent" includes the kernel's socket buffers on both ends (a few MB on loopback).
    assert sent < 16 * 2**20, f"the server kept reading: {sent} bytes accepted"
    assert status == 413 and json.loads(body)["fault"]["detail"]["code"] == "payload_too_large"


@pytest.mark.live
@pytest.mark.parametrize("path", ["/audio/generic/api/v2/sync/diarization/enroll?apikey=k",
                                  "/audio/generic/api/v1/sync/diarization/delete?apikey=k",
                                  "/audio/generic/api/v2/sync/diarization/identify?apikey=k",
                                  "/audio/generic/api/v1/async/diarization/identify?apikey=k"])
def test_a_413_names_the_endpoint_as_its_other_errors_do(small_server, path):
    def fault(head: bytes, body: bytes = b"") -> tuple[int, dict]:
        with _connect(small_server) as sock:
            sock.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         + head + b"Connection: close\r\n\r\n" + body)
            status, _, answer = _read_response(sock)
        return status, json.loads(answer)["fault"]

    status, other = fault(b"Content-Length: 1\r\n", b"{")  # a 400 (malformed body, or no webhook)
    assert status == 400 and other["fault_string"].startswith("Error in ")
    prefix = other["fault_string"].removesuffix(other["detail"]["message"])  # "Error in enroll: "
    status, too_large = fault(b"Content-Length: 10737418240\r\n", b"{")
    assert status == 413 and too_large["detail"]["code"] == "payload_too_large"
    assert too_large["fault_string"] == prefix + too_large["detail"]["message"]


def test_a_body_just_over_the_limit_gets_json_413_from_the_app(limited_api):
    api = limited_api(max_body_bytes=100_000)
    response = api.client.post(api.url("sync/diarization/enroll"), data=b"{" + b" " * 100_000 + b"}",
                               content_type="application/json")
    assert response.status_code == 413 and response.get_json()["fault"]["detail"]["code"] == "payload_too_large"


@pytest.mark.live
def test_a_body_under_the_limit_is_served(small_server, voices):
    entry = voices["speakers"]["alice"]["enroll"][0]
    body = json.dumps({"content": b64(entry["file"]), "encoding": "WAV", "speakerId": "alice"}).encode()
    assert len(body) < 2**20
    with _connect(small_server) as sock:
        sock.sendall(b"POST " + ENROLL.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        status, _, answer = _read_response(sock)
    assert status == 200 and json.loads(answer)["message"] == "Success"


# --- audio length ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("file,encoding", [("conversation.wav", "WAV"), ("conversation_8k.flac", "FLAC"),
                                           ("conversation_44k.mp3", "MP3"), ("conversation.ogg", "OGG"),
                                           ("conversation.raw", "LINEAR16"), ("conversation_stereo.wav", None)])
def test_audio_longer_than_the_limit_gets_413(limited_api, file, encoding):
    api = limited_api(max_audio_seconds=20.0)  # the conversations last 29 s
    response = api.enroll("alice", file, encoding=encoding, sampleRate=16000)
    assert response.status_code == 413, response.get_json()
    error = response.get_json()["fault"]["detail"]
    assert error["code"] == "audio_too_long" and "--max-audio-seconds" in error["message"]
    assert api.list().get_json()["enrolled_speaker_ids"] == []


def test_linear16_length_is_judged_by_its_declared_rate(limited_api):
    api = limited_api(max_audio_seconds=20.0)
    # The same 29 s of 16 kHz PCM, declared at 48 kHz, lasts under 10 s: accepted as audio (decodes).
    response = api.enroll("alice", "conversation.raw", encoding="LINEAR16", sampleRate=48000)
    assert response.status_code != 413, response.get_json()


def test_audio_under_the_limit_is_served(limited_api):
    api = limited_api(max_audio_seconds=20.0)
    assert api.enroll("alice", "speakers/alice/enroll1.wav", encoding="WAV").status_code == 200


# --- audio urls -----------------------------------------------------------------------------------------------

def _identify_url(api: Api, url: str):
    return api.client.post(api.url("sync/diarization/enroll"), json={"url": url, "speakerId": "alice"})


def test_a_url_declaring_a_huge_body_is_refused_without_downloading(limited_api, audio_host):
    api = limited_api(url_max_bytes=2**20)
    response = _identify_url(api, audio_host.url + "/huge")
    assert response.status_code == 413 and response.get_json()["fault"]["detail"]["code"] == "payload_too_large"


def test_an_endless_url_is_cut_off_at_the_size_cap(limited_api, audio_host):
    api = limited_api(url_max_bytes=2**20)
    response = _identify_url(api, audio_host.url + "/endless")
    assert response.status_code == 413 and "--url-max-mb" in response.get_json()["fault"]["detail"]["message"]


def test_a_slow_url_is_abandoned_after_the_whole_transfer_timeout(limited_api, audio_host):
    api = limited_api(url_timeout_seconds=1.0)
    response = _identify_url(api, audio_host.url + "/slow")  # each byte comes well within the socket timeout
    sent = audio_host.slow_bytes_sent
    assert response.status_code == 400
    error = response.get_json()["fault"]["detail"]
    assert error["code"] == "url_fetch_failed" and "--url-timeout" in error["message"]
    # One byte per 0.2 s: about 5 by the 1 s timeout; the whole 1000 would mean the timeout never applied.
    assert sent < 100, f"{sent} bytes were read before giving up"


def test_a_body_of_no_length_cut_at_the_timeout_is_not_taken_for_the_whole_file(limited_api, audio_host):
    # the deadline shuts the socket down, which ends a body of no declared length as its end would: the first
    # second of a 4 s transfer was analysed as the whole recording (insufficient_speech, or worse, a voice)
    api = limited_api(url_timeout_seconds=1.0)
    response = _identify_url(api, audio_host.url + "/slow-close")
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["fault"]["detail"]
    assert error["code"] == "url_fetch_failed" and "--url-timeout" in error["message"], error


def test_a_redirect_to_a_non_http_scheme_is_not_followed(limited_api, audio_host):
    api = limited_api()
    response = _identify_url(api, audio_host.url + "/to-ftp")
    assert response.status_code == 400 and response.get_json()["fault"]["detail"]["code"] == "invalid_url"


BAD_URLS = ["file:///etc/passwd", "ftp://127.0.0.1/a.wav", "gopher://127.0.0.1/", "javascript:alert(1)",
            "data:audio/wav;base64,AAAA", "//127.0.0.1/a.wav", "http:///a.wav", "127.0.0.1/a.wav", "", " ",
            "http://[::1", "\x00http://127.0.0.1/"]


@pytest.mark.parametrize("url", BAD_URLS)
def test_audio_urls_must_be_http_or_https(limited_api, url):
    api = limited_api()
    response = _identify_url(api, url)
    assert response.status_code == 400
    assert response.get_json()["fault"]["detail"]["code"] in (
        "invalid_url", "audio_source_conflict", "invalid_parameter")


@pytest.mark.parametrize("url", [u for u in BAD_URLS if u.strip()])
def test_webhooks_must_be_http_or_https(enrolled_api, url):
    response = enrolled_api.client.post(enrolled_api.url("async/diarization/identify", webhook=url),
                                        json={"content": b64("alice_short.flac"), "speakerIds": ["alice"]})
    assert response.status_code == 400 and response.get_json()["fault"]["detail"]["code"] == "invalid_url"


# --- concurrency: the async queue and sync requests -----------------------------------------------------------

def test_a_full_async_queue_answers_429_with_retry_after_and_recovers(tmp_path, voices, audio_host, make_app):
    app = make_app(ServerConfig(data_dir=tmp_path / "data", job_workers=1, job_queue_size=1))
    api = Api(app.test_client(), key="k")
    api.enroll_fixture_speaker("alice", voices)
    with WebhookReceiver() as receiver:
        def submit(request_id):
            return api.client.post(api.url("async/diarization/identify", webhook=receiver.url + "/h",
                                           request_id=request_id),
                                   json={"url": f"{audio_host.url}/held/{request_id}", "speakerIds": ["alice"]})

        assert submit("running").status_code == 202
        assert audio_host.held.wait(10)  # the one worker is busy downloading
        assert submit("queued").status_code == 202  # takes the one queue slot
        refused = submit("refused")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        assert refused.get_json()["fault"]["detail"]["code"] == "queue_full"
        audio_host.release.set()
        for request_id in ("running", "queued"):
            delivery = receiver.wait_for(request_id, timeout=30)
            assert {s["speaker_id"] for s in delivery.body["response"]["segments"]} == {"alice"}
        assert submit("later").status_code == 202
        receiver.wait_for("later", timeout=30)
        assert receiver.for_request("refused") == []


@pytest.mark.live
def test_sync_requests_are_served_while_another_one_waits(tmp_path, voices, audio_host):
    server = LiveServer("--threads", "4", data_dir=tmp_path).start()
    try:
        def post(path, body):
            return http_json("POST", server.url + path, body)

        results = {}
        slow = threading.Thread(target=lambda: results.setdefault("slow", post(
            ENROLL, {"url": audio_host.url + "/held/sync", "speakerId": "alice"})))
        slow.start()
        assert audio_host.held.wait(10)
        entry = voices["speakers"]["bob"]["enroll"][0]
        assert post(ENROLL, {"content": b64(entry["file"]), "speakerId": "bob"})[0] == 200
        assert "slow" not in results  # served while the other was held
        audio_host.release.set()
        slow.join(30)
        assert results["slow"][0] == 200 and results["slow"][1]["message"] == "Success"
    finally:
        assert server.stop() == 0


def test_base64_is_decoded_once_and_bounded_by_the_body_limit(limited_api):
    api = limited_api(max_body_bytes=2**20)
    content = base64.b64encode(b"\0" * 2**20).decode()  # 1.33 MB of base64
    response = api.client.post(api.url("sync/diarization/enroll"), json={"content": content, "speakerId": "a"})
    assert response.status_code == 413
