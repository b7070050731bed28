"""A request's audio before decoding: where it comes from (base64 ``content`` or a ``url``) and its labels."""
from __future__ import annotations

import base64
import binascii
import sys
from dataclasses import dataclass

from mock_server import errors

_STRICT_A2B = sys.version_info >= (3, 11)  # binascii.a2b_base64(strict_mode=...) is new in 3.11


@dataclass(frozen=True)
class AudioSource:
    """Where a request's audio comes from: exactly one of ``content`` (decoded base64) and ``url``.

    ``encoding``: labels.normalise_encoding's result (None: detect); ``sample_rate``: Hz as the client sent it,
    used only for headerless audio.
    """

    content: bytes | None
    url: str | None = None
    encoding: str | None = None
    sample_rate: int | None = None


def decode_base64(content: str) -> bytes:
    """Strict base64 (standard or url-safe alphabet, padding optional, data URLs tolerated) to bytes.

    Raises errors.InvalidBase64 or errors.EmptyAudio (400).
    """
    if _STRICT_A2B:
        # What clients send almost always: one unbroken, padded, standard-alphabet string. Decoded in one pass,
        # it skips the copies and the validating regex below (~40% of the time for a multi-MB clip);
        # anything else falls through to the tolerant path.
        try:
            data = binascii.a2b_base64(content, strict_mode=True)
        except (binascii.Error, ValueError):
            data = b""
        if data:
            return data
    text = "".join(content.split())
    if text.startswith("data:") and "," in text:  # tolerate data URLs pasted from browsers
        text = text.split(",", 1)[1]
    text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidBase64(
            "content is not valid base64; send the audio file's bytes base64-encoded "
            "(e.g. `base64 -w0 file.wav`).") from None
    if not data:
        raise errors.EmptyAudio("content is empty; send the base64 of a non-empty audio file.")
    return data
