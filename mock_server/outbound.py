"""The mock's own outgoing HTTP (audio ``url`` downloads, webhook POSTs): requests sessions that ignore the
environment and whose exchanges end at a deadline, however the other side behaves.

requests' ``timeout`` bounds each wait for the socket, not an exchange: a host that sends its status line or
headers a byte at a time, or ``100 Continue`` answers without end (http.client skips any number of them), held a
thread for ever, and enough of them stopped the server answering (all REST threads) or delivering (all webhook
threads). Inside ``deadline(seconds)``, every connection a session of ``session()`` opens or reuses on this thread
is shut down when the deadline passes, which ends whatever read is waiting on it.
"""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests
# requests (and urllib3) are imported on first use: ~0.3 s that every worker process would otherwise pay at start-up.

_local = threading.local()


class Deadline:
    """A point in time.monotonic() after which the connections opened under it are shut down."""

    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds
        self.passed = False                 # a connection was cut at the deadline
        self._timers: list[threading.Timer] = []

    def watch(self, sock: socket.socket) -> None:
        timer = threading.Timer(max(0.0, self.at - time.monotonic()), self._cut, args=(sock,))
        timer.daemon = True
        timer.start()
        self._timers.append(timer)

    def _cut(self, sock: socket.socket) -> None:
        self.passed = True
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:                     # already closed: nothing waits on it
            pass

    def cancel(self) -> None:
        for timer in self._timers:
            timer.cancel()


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Connections opened on this thread by a ``session()`` inside the block are shut down after ``seconds``;
    the timers end with the block."""
    watch, before = Deadline(seconds), getattr(_local, "deadline", None)
    _local.deadline = watch
    try:
        yield watch
    finally:
        watch.cancel()
        _local.deadline = before


def session() -> requests.Session:
    """A requests Session without the environment (requests would otherwise send this machine's ~/.netrc
    credentials to whatever host a request names, and route loopback urls through a proxy set for the outside
    world) whose connections obey ``deadline``."""
    import requests
    made = requests.Session()
    made.trust_env = False
    adapter = _adapter_class()()
    made.mount("http://", adapter)
    made.mount("https://", adapter)
    return made


_adapter: type | None = None


def _adapter_class() -> type:
    """requests' HTTPAdapter with connection pools whose connections report their socket to the thread's
    deadline once connected (built on first use, so urllib3 loads only then)."""
    global _adapter
    if _adapter is None:
        from requests.adapters import HTTPAdapter
        from urllib3.connection import HTTPConnection, HTTPSConnection
        from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

        def watched(base: type) -> type:
            class Watched(base):
                response_class = _final_response_class()

                def connect(self) -> None:
                    super().connect()
                    self._watch()

                def request(self, *args, **kwargs):
                    if self.sock is not None:   # a kept-alive connection, reused under this thread's deadline
                        self._watch()
                    return super().request(*args, **kwargs)

                def _watch(self) -> None:
                    current = getattr(_local, "deadline", None)
                    if current is not None and self.sock is not None:
                        current.watch(self.sock)
            return Watched

        class WatchedHTTPPool(HTTPConnectionPool):
            ConnectionCls = watched(HTTPConnection)

        class WatchedHTTPSPool(HTTPSConnectionPool):
            ConnectionCls = watched(HTTPSConnection)

        class WatchedAdapter(HTTPAdapter):
            def init_poolmanager(self, *args, **kwargs) -> None:
                super().init_poolmanager(*args, **kwargs)
                self.poolmanager.pool_classes_by_scheme = {"http": WatchedHTTPPool, "https": WatchedHTTPSPool}

        _adapter = WatchedAdapter
    return _adapter


def _final_response_class() -> type:
    """http.client's response, reading past interim answers: it skips '100 Continue' only and took '102
    Processing' or '103 Early Hints' for the answer, so a receiver that sent one before its 200 had the result
    POSTed again. Skipping them is what RFC 9110 section 15.2 asks of a client; 101 is final (a protocol switch)."""
    import http.client

    class FinalResponse(http.client.HTTPResponse):
        def _read_status(self):
            while True:
                version, status, reason = super()._read_status()
                if not 102 <= status < 200:
                    return version, status, reason
                while self.fp.readline(http.client._MAXLINE + 1).strip():   # the interim answer's headers
                    pass

    return FinalResponse
