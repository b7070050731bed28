"""Helpers for testing against the mock: a live server process and a real local webhook receiver.

Used by this project's tests and by the pytest plugin; both only ever listen on loopback.
"""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def http_json(method: str, url: str, body=None, *, timeout: float = 60.0, headers: dict | None = None,
              response_headers: dict | None = None) -> tuple[int, object]:
    """One HTTP call with an optional JSON body; (status, decoded JSON answer), error statuses included.

    ``body`` may be bytes already encoded, so a caller timing the call can encode before the clock starts.
    ``headers`` are sent as well; pass a dict as ``response_headers`` to have the answer's headers put in it.
    An answer that is not JSON comes back as a fault body with code "not_json", so callers can always index it.
    """
    status, raw = _http(method, url, body, timeout=timeout, headers=headers, response_headers=response_headers)
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        text = raw[:200].decode("latin-1")
        return status, {"fault": {"fault_string": text, "detail": {"code": "not_json", "message": text}}}


def http_text(method: str, url: str, body=None, *, timeout: float = 60.0, headers: dict | None = None,
              response_headers: dict | None = None) -> tuple[int, str]:
    """``http_json`` for an answer that is a page, not JSON (the dashboard, /docs): (status, the body as text).

    The body is decoded as UTF-8 (undecodable bytes replaced); the arguments are those of ``http_json``.
    """
    status, raw = _http(method, url, body, timeout=timeout, headers=headers, response_headers=response_headers)
    return status, raw.decode("utf-8", errors="replace")


def _http(method: str, url: str, body, *, timeout: float, headers: dict | None,
          response_headers: dict | None) -> tuple[int, bytes]:
    """The one HTTP client under ``http_json`` and ``http_text``: (status, raw body), error statuses included."""
    if isinstance(body, bytes):
        data = body
    else:
        data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, answered = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, raw, answered = exc.code, exc.read(), exc.headers
    if response_headers is not None:
        response_headers.update(answered.items())
    return status, raw


def _basic_auth(header: str | None) -> str | None:
    """ "user:password" from an ``Authorization: Basic ...`` header (UTF-8), or None."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.02, message: str = ""):
    """Call ``predicate()`` every ``interval`` seconds until it returns something truthy, and return that.

    For outcomes only visible by asking again (a job's status in the store, a process list); after ``timeout``
    seconds raises TimeoutError with ``message`` and the last value seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{message or 'condition not met'} within {timeout} s (last value: {value!r})")
        time.sleep(interval)


class LiveServer:
    """``python -m mock_server`` in a child process on a free loopback port."""

    def __init__(self, *args: str, data_dir: Path | str | None = None, env: dict | None = None):
        self._tmp = None if data_dir else tempfile.TemporaryDirectory(prefix="speaker-id-mock-")
        self.data_dir = Path(data_dir or self._tmp.name)
        self.args = list(args)
        self.env = env
        self.process: subprocess.Popen | None = None
        self.url = ""
        self.grpc_target = ""       # "127.0.0.1:PORT" of the realtime gRPC API; "" with --no-grpc
        self.log_path = self.data_dir / "server.log"

    def start(self, timeout: float = 60.0) -> "LiveServer":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        url_file = self.data_dir / f"url-{time.monotonic_ns()}.txt"
        cmd = [sys.executable, "-m", "mock_server", "--host", "127.0.0.1", "--port", "0", "--exit-with-parent",
               "--data-dir", str(self.data_dir), "--url-file", str(url_file), *self.args]
        env = dict(os.environ, **(self.env or {}))
        self._log = open(self.log_path, "ab")
        since = self._log.tell()                       # this run's part of the log (a restart appends to it)
        self.process = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        workers = _processes(self.args, env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mock server exited with {self.process.returncode}:\n{self.log()}")
            lines = url_file.read_text().split() if url_file.exists() else []
            if lines:   # the REST url, then "grpc=HOST:PORT" when the realtime API is served
                self.url = lines[0]
                self.grpc_target = next((x.split("=", 1)[1] for x in lines[1:] if x.startswith("grpc=")), "")
                # under --processes N, /health answers once one worker is up: wait for all N to say they are
                if self._healthy() and (workers == 1 or self._ready_workers(since) >= workers):
                    return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mock server did not become healthy in {timeout} s:\n{self.log()}")

    def _ready_workers(self, since: int) -> int:
        with open(self.log_path, "rb") as f:
            f.seek(since)
            return len(re.findall(rb"speaker-id-mock: worker \d+ ready", f.read()))

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode if self.process else None
        self._close_log()
        return code

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_log()

    def _close_log(self) -> None:
        if getattr(self, "_log", None):
            self._log.close()

    def close(self) -> None:
        self.stop()
        if self._tmp:
            self._tmp.cleanup()

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class Delivery:
    """One POST the receiver got, and the status it answered."""

    path: str
    body: dict | None
    raw: bytes
    headers: dict
    time: float = field(default_factory=time.time)
    status: int = 200
    auth: str | None = None          # "user:password" from a Basic Authorization header, decoded


@dataclass(frozen=True)
class Reply:
    """How the receiver answers one POST: a status, extra headers, and a body that may come slowly."""

    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b"ok"
    byte_delay: float = 0.0          # seconds before each body byte: a prompt status line, a slow body


class WebhookReceiver:
    """A real HTTP endpoint on loopback that records every request.

    POSTs answered 2xx are ``deliveries``; every POST, refused ones included, is in ``posts`` with the status
    it got. ``fail_with`` answers that status to every POST while set; ``replies[path]`` scripts the next POSTs
    to one path (query included), in order, then 200; ``credentials`` = (user, password) answers 401 to a POST
    without that Basic auth. ``requests`` lists (method, path) of everything, so a test can see a GET never came.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.deliveries: list[Delivery] = []
        self.posts: list[Delivery] = []
        self.requests: list[tuple[str, str]] = []
        self.fail_with: int | None = None       # answer this status instead of 200 while set
        self.replies: dict[str, list[Reply]] = {}
        self.credentials: tuple[str, str] | None = None
        self.files: dict[str, bytes] = {}       # GET path -> bytes, to serve audio urls
        self.attempts = 0                       # every POST, refused ones (fail_with) included
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                auth = _basic_auth(self.headers.get("Authorization"))
                with receiver._changed:
                    receiver.requests.append(("POST", self.path))
                    scripted = receiver.replies.get(self.path)
                    reply = scripted.pop(0) if scripted else Reply()
                    if receiver.fail_with:
                        reply = Reply(receiver.fail_with)
                    if receiver.credentials and auth != ":".join(receiver.credentials):
                        reply = Reply(401, {"WWW-Authenticate": 'Basic realm="webhook"'})
                    delivery = Delivery(self.path, body, raw, dict(self.headers), status=reply.status, auth=auth)
                    receiver.attempts += 1
                    receiver.posts.append(delivery)
                    if 200 <= reply.status < 300:
                        receiver.deliveries.append(delivery)
                    receiver._changed.notify_all()
                self._answer(reply)

            def _answer(self, reply: Reply) -> None:
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.flush()  # the status line goes out now, whatever the body does
                    if not reply.byte_delay:
                        self.wfile.write(reply.body)
                        return
                    for i in range(len(reply.body)):
                        time.sleep(reply.byte_delay)
                        self.wfile.write(reply.body[i:i + 1])
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client took the status line and hung up: allowed

            def do_GET(self):
                with receiver._changed:
                    receiver.requests.append(("GET", self.path))
                data = receiver.files.get(self.path)
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                self.wfile.write(data or b"")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, request_id: str, timeout: float = 30.0) -> Delivery:
        """The delivery for ``request_id``, waiting up to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for d in self.deliveries:
                    if isinstance(d.body, dict) and str(d.body.get("request_id")) == str(request_id):
                        return d
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no webhook delivery for request_id {request_id!r} within {timeout} s")
                self._changed.wait(left)

    def wait_attempts(self, count: int, timeout: float = 30.0) -> int:
        """Wait until at least ``count`` POSTs arrived, answered or refused; returns how many did."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.attempts < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.attempts} of {count} webhook attempts within {timeout} s")
                self._changed.wait(left)
            return self.attempts

    def wait_posts(self, count: int, timeout: float = 30.0) -> list[Delivery]:
        """Wait until at least ``count`` POSTs arrived; returns every POST so far."""
        self.wait_attempts(count, timeout)
        with self._changed:
            return list(self.posts)

    def for_request(self, request_id: str) -> list[Delivery]:
        with self._changed:
            return [d for d in self.deliveries if isinstance(d.body, dict)
                    and str(d.body.get("request_id")) == str(request_id)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "WebhookReceiver":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _processes(args, env) -> int:
    """The --processes a server is started with (its argument, else SPEAKER_ID_MOCK_PROCESSES, else 1)."""
    value = env.get("SPEAKER_ID_MOCK_PROCESSES", "1")
    for i, arg in enumerate(args):
        name, _, inline = str(arg).partition("=")
        if len(name) >= 5 and "--processes".startswith(name):     # argparse takes an unambiguous prefix too
            if inline:
                value = inline
            elif i + 1 < len(args):
                value = args[i + 1]
    try:
        return max(1, int(value))
    except ValueError:
        return 1                      # the server refuses it and exits: start() reports that
