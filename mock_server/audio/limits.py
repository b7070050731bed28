"""How much audio one request may decode: a duration (--max-audio-seconds) and a decoded-sample cap.

The duration bounds what the pipeline is handed. The sample cap bounds the decoder's own work and memory
whatever the file claims: compressed audio (a minute of silent FLAC or Opus is a few hundred bytes) and
multichannel streams decode to far more samples than their bytes suggest, so a decoder counts what it actually
produced (frames x channels, at the source rate) and stops at the cap instead of trusting a header.
"""
from __future__ import annotations

from dataclasses import dataclass

from mock_server import errors

# 2**30 decoded samples (4 GiB as float32 if it were all kept, which it is not: blocks are mixed to mono and, for
# FFmpeg, resampled as they come). Two hours of 48 kHz stereo is 0.69e9; the cap stops only pathological files
# (hundreds of channels, MHz rates) from costing minutes of CPU. Tests lower it (module attribute, read per call).
MAX_DECODED_SAMPLES = 2**30


@dataclass(frozen=True)
class DecodeLimits:
    """``max_seconds`` of audio and ``max_samples`` decoded samples (frames x channels) per request."""

    max_seconds: float
    max_samples: int

    def max_frames(self, rate: int) -> int:
        """The most frames at ``rate`` Hz the duration allows (one more is already too long)."""
        return int(self.max_seconds * rate)

    def check(self, frames: int, rate: int, channels: int, *, at_least: bool = False) -> None:
        """Raise errors.AudioTooLong (413) if ``frames`` at ``rate`` Hz with ``channels`` break a limit (its subclass
        AudioTooManySamples for the decoded-sample cap).

        ``at_least``: the count is where decoding stopped, not the whole file (the message says "more than").
        """
        more = "more than " if at_least else ""
        if frames > self.max_frames(rate):
            raise errors.AudioTooLong(f"the audio lasts {more}{frames / rate:.0f} s; the limit is "
                                      f"{self.max_seconds:.0f} s (--max-audio-seconds). Split it into shorter clips.")
        if frames * channels > self.max_samples:
            raise errors.AudioTooManySamples(
                f"the audio decodes to {more}{frames * channels} samples ({channels} channel"
                f"{'s' if channels != 1 else ''} x {frames} frames at {rate} Hz); the limit is {self.max_samples} "
                "decoded samples. Send fewer channels, a lower rate or a shorter clip.")
