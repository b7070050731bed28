"""Contract of server/waitress_adapter.py with the installed waitress: the internals it uses exist and still
behave as it relies on (JSON refusals, drain on stop). A waitress upgrade that breaks any of it fails here
first; setup.cfg pins waitress to the versions this passed on."""
from __future__ import annotations

import inspect
import json
import socket
import threading
import time

import pytest
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from mock_server.server.waitress_adapter import WaitressServer
from mock_server.testing import wait_until


def test_the_waitress_internals_the_adapter_uses_are_there():
    assert callable(wasyncore.loop) and "count" in inspect.signature(wasyncore.loop).parameters
    assert callable(wasyncore.close_all) and callable(wasyncore.dispatcher.close)
    assert HTTPChannel.error_task_class is ErrorTask and callable(ErrorTask.execute)
    # The channel state the drain looks at: queued requests, one being parsed, bytes not yet written.
    assert HTTPChannel.request is None and HTTPChannel.total_outbufs_len == 0
    assert {"cancel_pending", "timeout"} <= set(inspect.signature(ThreadedTaskDispatcher.shutdown).parameters)
    # What the channel's send_continue looks at: a request refused from its headers has its error set.
    assert callable(HTTPChannel.send_continue) and HTTPRequestParser.error is None
    assert HTTPRequestParser.expect_continue is False


def _refusal(code: int, reason: str, detail: str, path: str | None) -> bytes:
    return json.dumps({"error": {"code": f"refused_{code}", "message": f"{reason}: {detail}", "path": path}}).encode()


class _Served:
    """A WaitressServer on a loopback port, serving in a thread; ``/slow`` waits until ``release`` is set."""

    def __init__(self):
        self.entered, self.release = threading.Event(), threading.Event()

        def app(environ, start_response):
            if environ["PATH_INFO"] == "/slow":
                self.entered.set()
                self.release.wait(10)
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
            return [b"ok"]

        self.server = WaitressServer(app, host="127.0.0.1", port=0, threads=2, max_body_bytes=1000,
                                     refusal=_refusal)
        self.stopping = threading.Event()
        self.drained: bool | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.server.serve_until(self.stopping, tick=0.05)
        self.drained = self.server.drain(time.monotonic() + 10)
        self.server.close(timeout=2)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.server.port), timeout=10)

    def stop(self):
        self.release.set()
        self.stopping.set()
        self.thread.join(15)


@pytest.fixture
def served():
    s = _Served()
    yield s
    s.stop()


def _refused(port: int) -> bool:
    """Whether a connection to ``port`` is refused: nothing listens there any more."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


# Raw sockets here, not http_json: these tests send what no HTTP client would (a 10 GB Content-Length, an
# Expect: 100-continue left waiting, a malformed header) and read waitress's own bytes and connection state.
def _exchange(sock: socket.socket, raw: bytes) -> bytes:
    sock.sendall(raw)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_body_over_the_limit_is_refused_with_the_adapters_json_body(served):
    with served.connect() as sock:
        answer = _exchange(sock, b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10737418240\r\n\r\n{")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"Content-Type: application/json" in head
    assert json.loads(body)["error"]["code"] == "refused_413"
    assert json.loads(body)["error"]["path"] == "/x"  # the path reaches the refusal: it names the vendor's API


def test_a_body_over_the_limit_is_refused_before_a_100_continue_asks_for_it(served):
    """waitress itself would answer 100 Continue, then wait for up to the limit's worth of body before its 413."""
    with served.connect() as sock:
        answer = _exchange(sock, b"POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                                 b"Content-Length: 10737418240\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["code"] == "refused_413"


def test_a_body_within_the_limit_still_gets_its_100_continue(served):
    with served.connect() as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
                     b"Connection: close\r\n\r\n")
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        answer = _exchange(sock, b"{}")
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"ok")


def test_a_malformed_request_is_refused_with_the_adapters_json_body(served):
    with served.connect() as sock:
        answer = _exchange(sock, b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and json.loads(body)["error"]["code"] == "refused_400"


def test_drain_lets_the_request_in_flight_finish_and_stops_accepting(served):
    with served.connect() as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert served.entered.wait(10)
        served.stopping.set()
        # the serving thread notices the flag and closes the listening socket
        wait_until(lambda: _refused(served.server.port), timeout=4, message="still accepting connections after stop")
        served.release.set()
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"ok")
    served.thread.join(15)
    assert served.drained is True
