"""Reading answers: our stable error code and message sit under the vendor's ``fault.detail``; unknown speech is the
vendor's ``UserNotIdentified``."""
from __future__ import annotations

UNKNOWN_LABELS = {"UserNotIdentified"}


def error_of(response) -> dict:
    """``{"code", "message"}`` of an error answer (a Flask test response or a parsed JSON body)."""
    body = response if isinstance(response, dict) else response.get_json()
    return body["fault"]["detail"]
