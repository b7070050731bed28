"""The application factory: settings in, a wired Flask app out. It only wires: the state (store, service, job
runner) from ``mock_server.state``, the vendor's REST API and its docs from ``api/``, and, unless --no-admin,
the admin plug-in from ``admin/``."""
from __future__ import annotations

import logging
import time

from flask import Flask, g, jsonify, request

from mock_server import __version__
from mock_server.api.errors import register_error_handlers
from mock_server.api.openapi import register_docs
from mock_server.api.routes import register_api
from mock_server.core.config import ServerConfig
from mock_server.state import STATE_KEY, MockState, current_state, state_of

__all__ = ["create_app", "state_of", "current_state", "MockState"]

log = logging.getLogger("mock_server")


def create_app(config: ServerConfig | None = None, *, start_workers: bool = True) -> Flask:
    """Build the mock: ``config`` defaults to ServerConfig(); the job runner starts unless told otherwise.

    Whoever builds an app stops it: ``state_of(app).close()`` drains the job runner and closes the store."""
    config = config or ServerConfig()
    app = Flask(__name__)
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    state = MockState.build(config)
    app.extensions[STATE_KEY] = state
    register_error_handlers(app)
    register_api(app)
    register_docs(app)

    @app.get("/health")
    def health():
        return jsonify({"status": "ok", "version": __version__,
                        "uptime_seconds": round(time.time() - state.started, 3)})

    @app.before_request
    def _start_clock():
        g.started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        # request.path, never the full url: the api key travels in the query string.
        log.info("%s %s -> %s in %.1f ms", request.method, request.path, response.status_code, elapsed)
        return response

    if config.admin:
        from mock_server.admin import plugin  # imported only when mounted: --no-admin leaves it out whole
        plugin.init_app(app, state)  # after _start_clock: injected delays count in the journal's duration

    if start_workers:
        state.runner.start()
    return app
