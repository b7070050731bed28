"""The mock's own routes and hooks on the Flask app, beside the vendor's API: /health (liveness, version,
uptime) and one log line per request."""
from __future__ import annotations

import logging
import time

from flask import Flask, g, jsonify, request

from mock_server import __version__
from mock_server.state import current_state

log = logging.getLogger("mock_server")


def register_meta(app: Flask) -> None:
    """Add /health and the request log to ``app``. Its before_request hook starts the clock, so register this
    before any plug-in whose hooks should count in the request's duration (the admin plug-in's injected delays)."""
    app.add_url_rule("/health", "health", health, methods=["GET"])
    app.before_request(_start_clock)
    app.after_request(_log_request)


def health():
    """Liveness: {"status": "ok", "version", "uptime_seconds"} since the app's state was built."""
    return jsonify({"status": "ok", "version": __version__,
                    "uptime_seconds": round(time.time() - current_state().started, 3)})


def _start_clock() -> None:
    g.started = time.perf_counter()


def _log_request(response):
    elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    # request.path, never the full url: the api key travels in the query string.
    log.info("%s %s -> %s in %.1f ms", request.method, request.path, response.status_code, elapsed)
    return response
