"""Reading answers whatever their shape: our stable error code and message sit under ``error`` today and under
``fault.detail`` once the vendor's fault bodies land (issue #11 item 2); unknown speech is ``unknown`` or the
vendor's ``UserNotIdentified``. Tests of other things assert through these so they do not depend on the shape."""
from __future__ import annotations

UNKNOWN_LABELS = {"unknown", "UserNotIdentified"}


def error_of(response) -> dict:
    """``{"code", "message"}`` of an error answer (a Flask test response or a parsed JSON body)."""
    body = response if isinstance(response, dict) else response.get_json()
    if "error" in body:
        return body["error"]
    return body["fault"]["detail"]
