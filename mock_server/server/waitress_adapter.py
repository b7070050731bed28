"""Every use of waitress beyond its documented ``create_server()``, in one place (tests/test_waitress_adapter.py
checks each against the installed waitress; setup.cfg pins waitress to the versions those tests passed on).

Two things waitress does not offer through its documented API:

- its own refusals (413 for a body over ``max_request_body_size``, 400 for a malformed request, 431 for huge
  headers) come as plain text; we give them our JSON error body through a channel class whose
  ``error_task_class`` is an ``ErrorTask`` subclass;
- to a client that sends ``Expect: 100-continue`` it answers ``100 Continue`` even when it has already refused the
  request from its headers (a Content-Length over the limit), then waits for up to the limit's worth of body
  before the 413; the same channel class's ``send_continue`` holds the 100 back from a refused request, so the
  413 goes out at once and the client never sends the body;
- ``server.run()`` serves until the process ends; to drain on SIGTERM (stop accepting, let the responses in
  flight go out, then stop) we run its ``wasyncore`` loop ourselves and look at its channels.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable

import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

# (HTTP status code, waitress's reason and detail, the request's path if it got that far) -> our JSON error body
RefusalBody = Callable[[int, str, str, "str | None"], bytes]


class WaitressServer:
    """One waitress server on ``host``:``port`` (0: a free port) serving ``app`` on ``threads`` threads."""

    def __init__(self, app, *, host: str, port: int, threads: int, max_body_bytes: int, refusal: RefusalBody,
                 **options):
        self._map: dict = {}
        # waitress refuses bodies over max_request_body_size itself, from the Content-Length header or, for
        # chunked bodies, as soon as that many bytes arrived: nothing larger is ever buffered.
        self.server = waitress.create_server(app, map=self._map, host=host, port=port, threads=threads,
                                             max_request_body_size=max_body_bytes, **options)
        self.server.channel_class = _json_refusals(refusal)

    @property
    def port(self) -> int:
        return self.server.effective_port

    def serve_until(self, stopping: threading.Event, tick: float = 0.2) -> None:
        """Serve until ``stopping`` is set (looked at every ``tick`` seconds)."""
        while not stopping.is_set():
            wasyncore.loop(timeout=tick, map=self._map, count=1)

    def drain(self, deadline: float) -> bool:
        """Stop accepting, then keep serving until no request is in flight and every response is written out,
        or ``time.monotonic()`` reaches ``deadline``; True when nothing was left."""
        wasyncore.dispatcher.close(self.server)  # only the listening socket; the channels go on
        while time.monotonic() < deadline:
            if not self._busy():
                return True
            wasyncore.loop(timeout=0.05, map=self._map, count=1)
        return not self._busy()

    def close(self, timeout: float) -> None:
        """Stop the request threads (waiting up to ``timeout`` s) and close every connection."""
        self.server.task_dispatcher.shutdown(cancel_pending=True, timeout=max(0.1, timeout))
        wasyncore.close_all(self._map)

    def _busy(self) -> bool:
        return any(isinstance(ch, HTTPChannel) and (ch.requests or ch.total_outbufs_len or ch.request is not None)
                   for ch in list(self._map.values()))


def _json_refusals(refusal: RefusalBody) -> type[HTTPChannel]:
    """A waitress channel whose own refusals carry ``refusal(code, reason, detail)`` as a JSON body and go out
    without a ``100 Continue`` before them."""

    class JsonErrorTask(ErrorTask):
        def execute(self):
            error = self.request.error
            body = refusal(error.code, error.reason, error.body, getattr(self.request, "path", None))
            self.status = f"{error.code} {error.reason}"
            self.response_headers.extend([("Content-Type", "application/json"), ("X-Served-By", str(os.getpid()))])
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class JsonErrorChannel(HTTPChannel):
        error_task_class = JsonErrorTask

        def send_continue(self):
            if self.request.error is not None:  # refused from its headers: answer now, ask for no body
                self.request.expect_continue = False
                return
            super().send_continue()

    return JsonErrorChannel
