"""Request parsing shared by every route of the public and the admin API: JSON bodies, declared body specs,
query parameters, ids. Every failure is an ApiError (a 4xx) naming the field and how to fix it; nothing a
client sends reaches a handler as a 500.

Admin bodies are checked against the JSON Schemas that ``/openapi.json`` publishes (``mock_server.admin.schemas``),
so a limit is written once. The public API's fields keep their hand-written checks, whose messages follow the
vendor's wording; they share the body parsing, the id rules and the type names here.
"""
from __future__ import annotations

import json
import math
import re
import sys
import unicodedata

from flask import request

from mock_server import errors

MAX_ID_LENGTH = 256         # speaker ids and request ids; longer is a caller's bug, not a voice


def json_body(*, example: str, optional: bool = False) -> dict | None:
    """The request body as a JSON object; with ``optional`` an empty body is None.

    ``example``: the endpoint's own body, shown when it is empty (each endpoint names its fields: an example
    from another endpoint sends the client after the wrong ones).

    Raises MalformedJson for an empty (unless optional), invalid, non-object, too deeply nested body, or one
    holding NaN or Infinity (not JSON, though Python's parser takes them) or a lone UTF-16 surrogate escape
    (``"\\ud800"``: JSON's grammar takes it, but it is no character, and UTF-8 (SQLite, logs) cannot hold it)."""
    # not cached on the request: nothing reads the raw bytes again, and a 10-minute recording's base64 body
    # (13 MB) would otherwise stay alive beside the parsed copy for the whole identify
    raw = request.get_data(cache=False)
    if not raw.strip():
        if optional:
            return None
        raise errors.MalformedJson(f"the request body is empty; send a JSON object, e.g. {example}.")
    try:
        body = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_int)
    except _NonFinite as exc:
        text = exc.args[0]
        what = ("which is not JSON" if text in ("NaN", "Infinity", "-Infinity") else
                "a number too large for a 64-bit float")   # valid JSON, but no double holds it
        raise errors.MalformedJson(f"the request body holds {_short(text)}, {what}; send finite numbers.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.MalformedJson(f"the request body is not valid JSON ({_first_line(exc)}); send a JSON object "
                                   "with Content-Type: application/json.") from None
    except RecursionError:  # "[[[[..." thousands deep exhausts the parser's stack
        raise errors.MalformedJson("the request body nests JSON arrays or objects too deeply; send a flat JSON "
                                   "object.") from None
    if not isinstance(body, dict):
        raise errors.MalformedJson(f"the request body must be a JSON object, not a JSON {json_type(body)}.")
    # rare (an emoji escaped as a pair also matches): only then walk the body; a UTF-16 or -32 body always
    if _SURROGATE_ESCAPE.search(raw) or not json.detect_encoding(raw).startswith("utf-8"):
        where = _lone_surrogate(body)
        if where is not None:
            raise errors.MalformedJson(
                f"the request body holds a lone UTF-16 surrogate escape (\\u{where[1]:04x}) in {where[0]}, which is "
                "not a character; escape characters beyond U+FFFF as a high-low pair, or send them as UTF-8.")
    return body


# a \uD800-\uDFFF escape; JSON writes escapes with a lowercase u only
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")  # what json.loads leaves of an escape not paired


def _lone_surrogate(body: dict) -> tuple[str, int] | None:
    """(where, code point) of a string (field name or value) holding a lone surrogate, or None. Iterative: the
    parser already took the body's depth, a recursive walk might not."""
    pending: list[tuple[str, object]] = [("the body", body)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str):
            bad = _SURROGATE.search(value)
            if bad is not None:
                return where, ord(bad.group())
        elif isinstance(value, dict):
            for key, item in value.items():
                path = key if where == "the body" else f"{where}.{key}"
                pending.append((f"a field name of {where}", key))
                pending.append((path, item))
        elif isinstance(value, list):
            pending.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
    return None


class _NonFinite(ValueError):
    pass


def _refuse_constant(name: str):
    raise _NonFinite(name)


def _int(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS:  # Python refuses to convert it ("Exceeds the limit"): valid JSON, but no number
        raise _NonFinite(text)
    return int(text)


# Python 3.11+ converts at most this many digits (sys.get_int_max_str_digits); older ones any number
_MAX_INT_DIGITS = getattr(sys, "get_int_max_str_digits", lambda: 10**9)() or 10**9


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses to inf
        raise _NonFinite(text)
    return value


def check_spec(body: dict, schema: dict, *, name: str) -> None:
    """Check ``body`` against a declared JSON Schema (draft 2020-12, as /openapi.json publishes it).

    Unknown fields are refused with the list of allowed ones; any other mismatch names the field and the rule.
    Raises InvalidParameter or MissingParameter."""
    import jsonschema  # on first admin body only: it costs ~0.1 s to import, and start-up must stay fast

    validator = jsonschema.Draft202012Validator(schema)
    try:
        error = jsonschema.exceptions.best_match(validator.iter_errors(body))
    except RecursionError:
        raise errors.MalformedJson(f"the {name} nests too deeply; send the documented fields only.") from None
    if error is None:
        return
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    if error.validator == "additionalProperties":
        spec = error.schema
        unknown = sorted(set(error.instance) - set(spec.get("properties", {})))
        scope = f"{where} in the {name}" if where else f"the {name}"
        raise errors.InvalidParameter(
            f"unknown field(s) {', '.join(repr(u) for u in unknown)} in {scope}; the allowed fields are: "
            f"{', '.join(spec.get('properties', {}))}.")
    if error.validator is None:  # a field declared ``false`` in this case, e.g. code on a webhook fault
        declared = schema
        for step in error.schema_path:
            declared = declared[step]
        container = body
        for step in error.absolute_path:  # where the barred field sits (jsonschema reports its parent)
            container = container[step]
        barred = [k for k, v in declared.items() if v is False and k in container]
        first = next(iter(error.schema_path), None)
        branch = {"then": " when ", "else": " unless "}.get(first, "")
        branch += _condition(schema) if branch else ""
        raise errors.InvalidParameter(f"field(s) {', '.join(repr(b) for b in barred) or '?'} do not apply in the "
                                      f"{name}{branch}; see /openapi.json.")
    if error.validator == "required":
        raise errors.MissingParameter(f"{error.message} in the {name}{' at ' + where if where else ''}; see "
                                      "/openapi.json for its shape.")
    message = error.message
    if error.validator in ("minimum", "maximum") and isinstance(error.instance, (int, float)):
        # "<value> is greater than the maximum of 86400": the limit must survive a value hundreds of digits long
        message = message.replace(repr(error.instance), _number(error.instance), 1)
    raise errors.InvalidParameter(f"{where or name}: {_short(message)} (see /openapi.json).")


def _number(value: int | float) -> str:
    """A number for an error message; an integer literal too long to read is described by its length."""
    text = repr(value)
    return text if len(text) <= 30 else f"a number {len(text)} digits long"


def _condition(schema: dict) -> str:
    """The if-clause of a schema, in words: 'target is "webhook"'."""
    props = schema.get("if", {}).get("properties", {})
    return " and ".join(f"{k} is {json.dumps(v.get('const'))}" for k, v in props.items())


def query_int(name: str, *, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within [low, high] (ASCII digits only); ``default`` when absent."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise errors.InvalidParameter(f"{name} must be a whole number between {low} and {high}, got {raw!r}.")
    return int(raw)


BOOLEAN_SPELLINGS = {"true": True, "false": False, "1": True, "0": False}  # any case: the docs write True
# The same spellings as the pattern /openapi.json publishes for a boolean query parameter (ECMA-262 has no
# case-insensitive flag inside a pattern, so each letter is a class): one source for the handler and the document.
BOOLEAN_PATTERN = "^(" + "|".join("".join(f"[{c.upper()}{c}]" if c.isalpha() else c for c in spelling)
                                  for spelling in BOOLEAN_SPELLINGS) + ")$"


def query_bool(name: str, *, default: bool = False) -> bool:
    """A true/false query parameter: True/False, 1/0 in any case (BOOLEAN_SPELLINGS); ``default`` when absent.
    Any other value, an empty one or one with spaces included, is refused rather than read as false."""
    raw = request.args.get(name)
    if raw is None:
        return default
    value = BOOLEAN_SPELLINGS.get(raw.lower()) if raw.isascii() else None
    if value is None:
        raise errors.InvalidParameter(f"{name} must be True or False (also true/false or 1/0, in any case), got "
                                      f"{_short(raw)!r}; leave it out for {default}.")
    return value


def check_id(value: str, name: str) -> None:
    """Speaker and request ids: not blank, at most MAX_ID_LENGTH characters, no control characters (Unicode's Cc:
    C0, DEL and C1)."""
    if not value.strip():
        raise errors.InvalidParameter(f"{name} must not be blank.")
    if len(value) > MAX_ID_LENGTH:
        raise errors.InvalidParameter(f"{name} is {len(value)} characters long; the limit is {MAX_ID_LENGTH}.")
    control = next((i for i, c in enumerate(value) if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        raise errors.InvalidParameter(f"{name} must not contain control characters; it has "
                                      f"U+{ord(value[control]):04X} at position {control}: remove it.")


def misspelt(body: dict, name: str, *near: str) -> str:
    """A sentence naming a key of ``body`` that is ``name`` (or one of ``near``) spelt otherwise ("speaker_ids",
    "SpeakerIDs"), for the message that says ``name`` is missing; "" when there is none."""
    def folded(key: str) -> str:
        return key.replace("_", "").replace("-", "").lower()
    wanted = {folded(n) for n in (name, *near)}
    found = next((k for k in body if isinstance(k, str) and k != name and folded(k) in wanted), None)
    return f" The body has {found[:40]!r}, which is not read: the field is spelt {name!r}." if found else ""


def optional_string(body: dict | None, name: str, *, where: str = "") -> str | None:
    """``body[name]`` as a string, or None when absent or empty."""
    value = (body or {}).get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise errors.InvalidParameter(f"{where}{name} must be a string, not a JSON {json_type(value)}.")
    return value


def is_number(value) -> bool:
    """A JSON number that is finite (bools are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def json_type(value) -> str:
    """The JSON name of a parsed value's type, for messages."""
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]


def _short(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "..."
