"""Error rendering for the REST front door: every ApiError, werkzeug HTTP error or unexpected exception
becomes the same JSON body (the classes and their codes live in ``mock_server.errors``)."""
from __future__ import annotations

import logging
import re

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import RequestRedirect

from mock_server.errors import UNKNOWN_ROUTE_CODE, ApiError, fault_body

API_PREFIX = "/audio/generic/api/"

log = logging.getLogger(__name__)


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


_HTTP_HINTS = {
    404: "No such endpoint. The API lives under /audio/generic/api/v1/ and /audio/generic/api/v2/; see /openapi.json.",
    405: "This endpoint does not take that HTTP method; see /openapi.json.",
    413: "The request body is larger than the server accepts (--max-body-mb); send a url or a shorter clip.",
}


def vendor_api_name(path: str | None = None) -> str | None:
    """The vendor API a public request called ("enroll", "identify", ...), for a service fault's text ("Error in
    enroll: ..."); None outside the vendor's API. ``path``: the request's path, the current Flask request's by
    default (the server's own refusals, outside Flask, pass theirs)."""
    path = request.path if path is None else path
    if not path.startswith(API_PREFIX):
        return None
    return path.rstrip("/").rsplit("/", 1)[-1] or None


def register_error_handlers(app: Flask) -> None:
    """Answer every error, ours or werkzeug's, with the vendor's fault body (``mock_server.errors.fault_body``)."""

    @app.before_request
    def _no_redirects():
        """Paths are routed as written. werkzeug would answer a path that routes only once its doubled slashes are
        merged (``sync//diarization``) or a trailing slash is added (strict_slashes) with a 308 whose body is HTML,
        which Flask sends past every error handler. The vendor's gateway routes no such path, so neither does the
        mock: it is a path nothing routes, the gateway-shaped JSON 404 below."""
        if isinstance(request.routing_exception, RequestRedirect):
            raise NotFound()

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return jsonify(error.to_dict(api=vendor_api_name())), error.status, error.headers

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        status = error.code or 500
        code = "payload_too_large" if status == 413 else _snake(error.name)
        message = _HTTP_HINTS.get(status, error.description or error.name)
        headers = {}
        allowed = sorted(set(getattr(error, "valid_methods", None) or []) - {"HEAD", "OPTIONS"})
        if status == 405 and allowed:
            message = (f"This endpoint takes {' or '.join(allowed)}, not {request.method}; see /openapi.json.")
            headers["Allow"] = ", ".join(sorted(set(error.valid_methods)))  # RFC 9110 15.5.6: a 405 names them
        unknown_route = status == 404  # werkzeug's 404 is a path nothing routes: the vendor's gateway answers it
        body = fault_body(status=status, code=code, message=message, gateway=unknown_route,
                          vendor_code=UNKNOWN_ROUTE_CODE if unknown_route else None,
                          api=None if unknown_route else vendor_api_name())
        return jsonify(body), status, headers

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unexpected error while serving a request")
        body = fault_body(status=500, code="internal_error", api=vendor_api_name(),
                          message="The mock server failed unexpectedly; this is a bug, please report it with the "
                                  "request that caused it.")
        return jsonify(body), 500
