"""What a realtime call carries: its metadata (once per call) and its chunks, checked and decoded.

Metadata is what the vendor's SDK sends, every value a string: ``apikey``, ``speakerids`` (comma-separated),
``encoding``, ``samplerate``, ``languagecode``, ``apiversion``, ``verbose``. Only the first three matter here:
the language is not used by a speaker model, and version and verbosity change nothing in the answers.
Errors are the API's own (mock_server.errors); the servicer maps them to gRPC status codes in one place.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mock_server import audio, errors
from mock_server.core import auth

MAX_OFFSET = 1e7        # s (~115 days): a segmentOffset beyond this is a bug in the client, not a stream
MAX_SPEAKERS = 100      # ids per call; identify compares every frame with every voice


@dataclass(frozen=True)
class CallSettings:
    """The metadata of one IdentifySpeaker call, validated."""

    api_key: str
    tenant: str
    speaker_ids: tuple[str, ...]
    encoding: str | None        # default for chunks that name none; None = recognise from the bytes
    sample_rate: int | None     # default for chunks that give none (LINEAR16 needs one)
    unusable_rate: str | None = None   # a ``samplerate`` sent that is no rate (ignored; named if a chunk needs it)


READ_KEYS = ("apikey", "speakerids", "speakerid", "encoding", "samplerate")   # the metadata this door reads


def call_metadata(pairs) -> dict[str, str]:
    """The call's metadata (key, value) pairs as a dict of lower-case keys to string values (binary ``-bin``
    entries left out). A key this door reads sent twice with different values is InvalidParameter: gRPC allows
    repeated keys, and taking either value silently could check one api key or speaker and use another."""
    metadata: dict[str, str] = {}
    for key, value in pairs:
        if not isinstance(value, str):
            continue
        key = key.lower()
        if key in READ_KEYS and metadata.get(key, value) != value:
            shown = "(hidden)" if key == "apikey" else f"{metadata[key][:60]!r} and {value[:60]!r}"
            raise errors.InvalidParameter(f"the call metadata '{key}' was sent twice with different values "
                                          f"{shown}; send it once" + (" (the ids comma-separated)."
                                                                      if key.startswith("speakerid") else "."))
        metadata[key] = value
    return metadata


def api_key(metadata: dict[str, str], allowed: tuple[str, ...]) -> str:
    """The call's api key from the ``apikey`` metadata; MissingApiKey / InvalidApiKey (-> UNAUTHENTICATED)."""
    key = metadata.get("apikey") or ""  # exactly as sent, as over REST (core.auth)
    if not key:
        raise errors.MissingApiKey("an api key is required: send it as the 'apikey' call metadata, e.g. "
                                   "metadata=[('apikey', KEY), ('speakerids', 'alice,bob')].")
    auth.check_api_key(key, allowed)
    return key


def call_settings(metadata: dict[str, str], allowed: tuple[str, ...]) -> CallSettings:
    """Validate the metadata of a call (the key first, so a caller without one learns nothing else)."""
    key = api_key(metadata, allowed)
    raw = metadata.get("speakerids") or metadata.get("speakerid") or ""
    entries = raw.split(",") if raw else []
    blank = next((i for i, s in enumerate(entries) if not s.strip()), None)
    if blank is not None:  # REST refuses a blank id in speakerIds too
        raise errors.InvalidParameter(f"speakerids {raw[:200]!r} has an empty entry (number {blank + 1}); send the "
                                      "ids comma-separated with nothing between the commas but an id, e.g. "
                                      "'alice,bob'.")
    ids = tuple(dict.fromkeys(entries))  # ids exactly as sent, as over REST
    if not ids:
        raise errors.MissingParameter("speakerids is required: send the speakers to look for as the 'speakerids' "
                                      "call metadata, comma-separated (e.g. 'alice,bob'); enroll them over REST "
                                      "first.")
    if len(ids) > MAX_SPEAKERS:
        raise errors.InvalidParameter(f"speakerids names {len(ids)} speakers; at most {MAX_SPEAKERS} per call.")
    encoding = audio.normalise_encoding(metadata.get("encoding") or None)
    raw_rate = metadata.get("samplerate")
    rate = _rate(raw_rate)
    return CallSettings(api_key=key, tenant=auth.tenant_of(key), speaker_ids=ids, encoding=encoding,
                        sample_rate=rate, unusable_rate=raw_rate if raw_rate and rate is None else None)


def _rate(raw: str | None) -> int | None:
    """The ``samplerate`` metadata; junk is ignored (containers carry their own rate; LINEAR16 then says so)."""
    try:
        rate = int(float(raw)) if raw else None
    except (ValueError, OverflowError):          # "x", and "inf" (float() takes it, int() cannot)
        return None
    return rate if rate and rate > 0 else None


def chunk_offset(value: float) -> float | None:
    """A chunk's ``segmentOffset`` in seconds; None when unset (0). InvalidParameter when not a usable time."""
    if value == 0:
        return None
    if not math.isfinite(value) or value < 0 or value > MAX_OFFSET:
        raise errors.InvalidParameter(f"segmentOffset {value!r} is not a time in the stream; send the seconds "
                                      f"from the start of the stream where this chunk begins (0 .. {MAX_OFFSET:g}).")
    return float(value)


def decode_chunk(chunk, settings: CallSettings, *, target_rate: int, max_seconds: float,
                 carry: bytearray | None = None) -> np.ndarray:
    """A chunk's ``content`` (base64 audio) as mono float32 samples at ``target_rate``.

    The chunk's own ``encoding``/``sampleRate`` win over the call metadata's. ``carry``: the stream's bytes of a
    headerless sample cut in two by the client (chunks of raw LINEAR16 may end at any byte); they are put before
    this chunk's bytes, and this chunk's own partial last sample is left in it for the next chunk (also after a
    WAV header: a WAV file cut into chunks at any byte, audio.partial_sample_at_end). Raises the
    API's audio errors (InvalidBase64, UnsupportedEncoding, UndecodableAudio, EmptyAudio, MissingParameter,
    AudioTooLong).
    """
    if not chunk.content:
        raise errors.EmptyAudio("the chunk has no content; send the base64 of a piece of audio (3-30 s) in "
                                "'content'.")
    encoding = audio.normalise_encoding(chunk.encoding) if chunk.encoding else settings.encoding
    rate = chunk.sampleRate if chunk.sampleRate > 0 else settings.sample_rate
    data = audio.decode_base64(chunk.content)
    if carry is not None:
        width = audio.headerless_width(data, encoding)
        if width is None:  # a container starts on its own; a WAV cut at any byte may end inside a sample
            carry[:] = data[len(data) - audio.partial_sample_at_end(data, encoding):]
        else:
            data = bytes(carry) + data
            cut = len(data) - len(data) % width
            carry[:] = data[cut:]
            data = data[:cut]
            if not data:
                return np.zeros(0, dtype=np.float32)
    if not rate and settings.unusable_rate is not None and audio.reads_as_headerless(data, encoding):
        raise errors.InvalidParameter(f"the samplerate metadata {settings.unusable_rate[:40]!r} is not a rate in Hz, "
                                      f"and {encoding} samples need one: send it as digits (e.g. '16000'), or "
                                      "give the chunk its own sampleRate.")
    # the rate is used for headerless data only; a container's header always wins (as in REST)
    return audio.decode_audio(data, encoding=encoding, sample_rate=rate or None, target_rate=target_rate,
                              max_seconds=max_seconds)
