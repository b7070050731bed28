"""Audio in: a request's bytes (base64 content or a url) to mono float32 samples at the pipeline's rate.

One module per step: source (the request's audio, base64), fetch (url downloads), labels (the ``encoding`` field),
sniff (what the bytes say they are), decode (choosing the reader), sndfile / ffmpeg / pcm (the readers), limits
(how much may be decoded). The names below are what the rest of the server imports.
"""
from __future__ import annotations

from .decode import decode_audio, headerless_width, partial_sample_at_end, reads_as_headerless
from .fetch import check_http_url, fetch_url
from .labels import SUPPORTED_ENCODINGS, normalise_encoding
from .pcm import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, check_rate, decode_pcm16, encode_pcm16, shown_rate
from .source import AudioSource, decode_base64

__all__ = ["AudioSource", "MAX_SAMPLE_RATE", "MIN_SAMPLE_RATE", "SUPPORTED_ENCODINGS", "check_http_url",
           "check_rate", "decode_audio", "decode_base64", "decode_pcm16", "encode_pcm16", "fetch_url",
           "headerless_width", "normalise_encoding", "partial_sample_at_end", "reads_as_headerless", "shown_rate"]
