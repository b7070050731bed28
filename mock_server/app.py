"""The application factory: settings in, a wired Flask app out. It only wires: the state (store, service, job
runner) from ``mock_server.state``; from ``api/`` the vendor's REST API, its docs, and the mock's own /health and
request log; and, unless --no-admin, the admin plug-in from ``admin/``."""
from __future__ import annotations

from flask import Flask

from mock_server.api.errors import register_error_handlers
from mock_server.api.meta import register_meta
from mock_server.api.openapi import register_docs
from mock_server.api.routes import register_api
from mock_server.core.config import ServerConfig
from mock_server.state import STATE_KEY, MockState, current_state, state_of

__all__ = ["create_app", "state_of", "current_state", "MockState"]


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
    register_meta(app)  # /health and the request log

    if config.admin:
        from mock_server.admin import plugin  # imported only when mounted: --no-admin leaves it out whole
        plugin.init_app(app, state)  # after register_meta's clock: injected delays count in the journal's duration

    if start_workers:
        state.runner.start()
    return app
