"""WSGI layers both servers put around the app: who served an answer, and the request body limit.

waitress refuses an oversized body itself (waitress_adapter gives that refusal our JSON body); gunicorn has no
body limit, so under it ``limit_body`` does the same.
"""
from __future__ import annotations

import json
import os
import tempfile

from mock_server.api.errors import vendor_api_name
from mock_server.errors import fault_body


def error_body(status: int, code: str, message: str, *, path: str | None = None) -> bytes:
    """The vendor's fault body every error answer of ours uses (``mock_server.errors.fault_body``), UTF-8 JSON; for a
    request to the vendor's API (``path``) its text names the API ("Error in enroll: ..."), as the app's do."""
    api = vendor_api_name(path) if path else None
    return json.dumps(fault_body(status=status, code=code, message=message, api=api)).encode("utf-8")


def too_large_message(max_body_bytes: int) -> str:
    return (f"the request body is larger than {max_body_bytes / 2**20:g} MB (--max-body-mb); send a url or a "
            "shorter clip.")


def served_by(app):
    """WSGI wrapper adding ``X-Served-By: <pid>``, to see which process answered."""

    def wsgi(environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, list(headers) + [("X-Served-By", str(os.getpid()))], exc_info)

        return app(environ, start)

    return wsgi


def limit_body(app, max_body_bytes: int, *, spool_bytes: int = 512 * 1024):
    """WSGI wrapper answering ``413 payload_too_large`` (JSON) to a body over ``max_body_bytes``, whatever the
    route, before the app sees the request: at once from its Content-Length (nothing read), or, for a chunked
    body (no length up front), as soon as more than that arrived. A chunked body within the limit is handed on
    spooled (in memory up to ``spool_bytes``, then in a temporary file) with its Content-Length set.

    Flask's own MAX_CONTENT_LENGTH would silently cut a chunked body at the limit instead of refusing it.
    What stays unread gunicorn discards (at most a few MB, for at most 5 s) before it reuses or closes the
    connection."""
    message = too_large_message(max_body_bytes)

    def refuse(environ, start_response):
        too_large = error_body(413, "payload_too_large", message, path=environ.get("PATH_INFO"))
        start_response("413 Request Entity Too Large", [
            ("Content-Type", "application/json"), ("Content-Length", str(len(too_large)))])
        return [too_large]

    def wsgi(environ, start_response):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # the server refuses a malformed Content-Length before we get here
        if length > max_body_bytes:
            return refuse(environ, start_response)
        if not environ.get("CONTENT_LENGTH") and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = tempfile.SpooledTemporaryFile(max_size=spool_bytes)
            total = 0
            while chunk := environ["wsgi.input"].read(65536):
                total += len(chunk)
                if total > max_body_bytes:
                    body.close()
                    return refuse(environ, start_response)
                body.write(chunk)
            body.seek(0)
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = body, str(total)
        return app(environ, start_response)

    return wsgi
