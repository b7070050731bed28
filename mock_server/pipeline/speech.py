"""Where is speech? webrtcvad frame decisions turned into regions.

webrtcvad (fast C) labels every 10/20/30 ms frame. Its raw decisions flicker, so they are
cleaned in three readable steps, all in seconds from the config:
  1. a gate relative to the recording's own noise floor: frames less than vad_floor_margin dB above the
     recording's quiet frames (its vad_floor_percentile-th percentile frame level) are never speech, nor is
     anything in a recording whose loudest second is less than vad_min_range dB above that floor,
     nor frames more than vad_dynamic_range dB below the recording's speech level (rounding noise of quiet
     16-bit audio), so
     webrtcvad does not fire on hiss, whatever the recording's level (no absolute level anywhere: the
     samples are first brought to a fixed speech level by level.normalise_level); a recording that looks steady
     is judged again on levels without mains hum (hum as loud as the speech);
  2. bridging: pauses shorter than vad_bridge (as webrtcvad heard them) are filled (speech_and_pauses also says
     where they were: a short pause can still be a change of speaker);
  3. hangover: every voiced run is extended (the ends of words are soft and get missed), then regions
     shorter than vad_min_speech are dropped as clicks.
Also here, for identify's noise shift (decision.noise_shift): how far the speech stands above the noise in the
recording's pauses (speech_to_noise).
"""

from __future__ import annotations

from typing import NamedTuple

import _webrtcvad
import numpy as np
import webrtcvad

from .config import DEFAULT_CONFIG, PipelineConfig
from .level import frame_levels_db, normalise_level

# dB the recording's floor must drop by without hum for a steady-looking recording to be judged again: its quiet
# frames are then mostly hum (50/60 Hz hum over speech: 56-72 dB), not low-pitched noise (rumble below 200 Hz: ~4 dB)
HUM_FLOOR_DB = 10.0


class Voiced(NamedTuple):
    """webrtcvad's decisions behind the recording's own gate, and the recording's speech level."""

    frames: np.ndarray          # (n_frames,) bool, one per VAD frame
    speech_level_db: float      # dB (level-normalised samples: about level_target_db); -inf without speech


class SpeechFrames(NamedTuple):
    """speech_and_pauses's answer."""

    speech: np.ndarray          # (n_frames,) bool: speech, pauses bridged, with hangover
    pauses: np.ndarray          # (n_frames,) bool: the bridged pauses inside that speech
    step: float                 # s per frame
    speech_level_db: float      # as in Voiced (speech_to_noise measures the pauses' noise against it)


def _runs(mask: np.ndarray) -> np.ndarray:
    """Start/end indices (end exclusive) of the True runs of a boolean vector, shape (n, 2)."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(d == 1), np.flatnonzero(d == -1)], axis=1)


def voiced_frames(samples: np.ndarray, config: PipelineConfig = DEFAULT_CONFIG, *,
                  block_frames: int = 256) -> Voiced:
    """Raw per-frame speech decisions, bool of shape (len(samples) // frame_len,), and the recording's speech level
    (Voiced).

    samples should already be level-normalised (level.normalise_level): webrtcvad's decisions depend on level.

    Converted to 16-bit PCM block_frames frames at a time into reused buffers, so memory stays flat in the
    length and the conversion stays in cache (it cost a third as much as webrtcvad itself with 2000-frame
    blocks in fresh arrays).
    """
    c = config
    frame_len = c.sample_rate * c.vad_frame_ms // 1000
    n = len(samples) // frame_len
    voiced = np.zeros(n, dtype=bool)
    vad = webrtcvad.Vad(c.vad_mode)
    # Vad.is_speech only checks its arguments and calls this; calling it directly over a view of the block
    # (no per-frame bytes copies) takes ~10% off the VAD's time, ~33 calls per second of audio.
    process, handle, rate = _webrtcvad.process, vad._vad, c.sample_rate
    nbytes = 2 * frame_len
    scaled = np.empty((min(block_frames, n), frame_len), dtype=np.float32)
    pcm16 = np.empty(scaled.shape, dtype="<i2")
    for f0 in range(0, n, block_frames):
        f1 = min(f0 + block_frames, n)
        x = np.asarray(samples[f0 * frame_len:f1 * frame_len], dtype=np.float32).reshape(f1 - f0, frame_len)
        y, p = scaled[:f1 - f0], pcm16[:f1 - f0]
        np.clip(x, -1.0, 1.0, out=y)
        y *= 32767.0
        np.copyto(p, y, casting="unsafe")                      # truncates toward zero, as astype does
        pcm = memoryview(p).cast("B")
        voiced[f0:f1] = [process(handle, rate, pcm[i:i + nbytes], frame_len) for i in range(0, len(pcm), nbytes)]
    gate = recording_gate(samples[:n * frame_len], c)
    if gate is None:
        return Voiced(np.zeros(n, dtype=bool), float("-inf"))
    level, floor, loud = gate
    # samples are level-normalised: their speech level is level_target_db, so this is relative to the speech
    return Voiced(voiced & (level >= max(floor + c.vad_floor_margin, c.level_target_db - c.vad_dynamic_range)),
                  loud)


def recording_gate(samples: np.ndarray, config: PipelineConfig = DEFAULT_CONFIG
                   ) -> tuple[np.ndarray, float, float] | None:
    """The levels speech is gated on: every VAD frame's level (n_frames,) float32, the recording's noise floor and
    its speech level (dB), or None for a recording of steady noise (no speech at all). samples: level-normalised.
    Levels are without mains hum (level.frame_levels_db) only for a recording that looks steady with it."""
    c = config
    frame_len = c.sample_rate * c.vad_frame_ms // 1000
    head = samples[:len(samples) // frame_len * frame_len]
    if len(head) == 0:
        return None
    top = max(1, int(round(c.level_top_seconds * c.sample_rate / frame_len)))
    level = frame_levels_db(head, frame_len)
    floor, loud = _floor_and_loud(level, c.vad_floor_percentile, top)
    if loud < floor + c.vad_min_range:
        # steady, whatever its level: noise, or speech over mains hum or rumble as loud as the speech (webrtcvad
        # high-passes its lowest band at 80 Hz; these levels do not), so judged again on levels without hum
        # (level.frame_levels_db). Only here: recordings that pass keep their levels, so their answers stay the same
        without_hum = frame_levels_db(head, frame_len, c.sample_rate)
        quiet, loud = _floor_and_loud(without_hum, c.vad_floor_percentile, top)
        if floor - quiet < HUM_FLOOR_DB or loud < quiet + c.vad_min_range:   # steady noise, no hum over speech
            return None
        level, floor = without_hum, quiet
    return level, floor, loud


def speech_to_noise(samples: np.ndarray, speech: np.ndarray, speech_level_db: float,
                    config: PipelineConfig = DEFAULT_CONFIG) -> float:
    """How far (dB) the speech level stands above the noise in the recording's pauses: the median level, without
    mains hum (level.frame_levels_db), of the VAD frames outside `speech` (n_frames,) that are within
    vad_dynamic_range of the speech level. Quieter frames count as clean: digital silence padding the recording,
    or 16-bit rounding noise under speech recorded louder than about -50 dBFS (under quieter speech that rounding
    noise is measured as noise). inf when those pauses last under config.noise_pause_seconds (a clip of continuous
    speech, whose quietest frames are gaps between words, 15-30 dB under the speech even when clean; a clean
    recording whose pauses are all that quiet) or without speech, so no noise is assumed. samples:
    level-normalised; speech and speech_level_db: speech_and_pauses's. Only identify needs it: it is not part of
    speech detection, which every enrollment runs."""
    c = config
    if not speech.any():
        return float("inf")
    frame_len = c.sample_rate * c.vad_frame_ms // 1000
    n = min(len(speech), len(samples) // frame_len)
    outside = np.asarray(samples[:n * frame_len], dtype=np.float32).reshape(n, frame_len)[~speech[:n]]
    level = frame_levels_db(outside.ravel(), frame_len, c.sample_rate)
    level = level[level >= speech_level_db - c.vad_dynamic_range]
    if len(level) * c.vad_frame_ms / 1000.0 < c.noise_pause_seconds:
        return float("inf")
    return speech_level_db - float(np.median(level))


def _floor_and_loud(level: np.ndarray, floor_percentile: float, top: int) -> tuple[float, float]:
    """A recording's noise floor (the floor_percentile-th of its frame levels, dB) and the level of its loud
    frames: the 95th percentile, or the loudest `top` frames (as level.py measures the speech level) when that is
    louder: three seconds of speech in two minutes of silence are under 5 % of the frames."""
    floor = float(np.percentile(level, floor_percentile))
    loud = float(np.percentile(level, 95))
    if len(level) > top:
        loud = max(loud, float(np.partition(level, len(level) - top)[len(level) - top]))
    return floor, loud


def speech_mask(samples: np.ndarray, config: PipelineConfig = DEFAULT_CONFIG, *,
                normalised: bool = False) -> tuple[np.ndarray, float]:
    """Cleaned speech decision per VAD frame and the frame duration in seconds.

    samples: mono float32 at config.sample_rate, any level (normalised here unless normalised=True says
    level.normalise_level already was applied).
    """
    found = speech_and_pauses(samples, config, normalised=normalised)
    return found.speech, found.step


def speech_and_pauses(samples: np.ndarray, config: PipelineConfig = DEFAULT_CONFIG, *,
                      normalised: bool = False) -> SpeechFrames:
    """speech_mask's decision per VAD frame, the bridged pauses inside it (frames of the mask that webrtcvad heard
    as a pause shorter than vad_bridge, beyond the hangover of the speech around them) and the frame duration in
    seconds; both masks bool of shape (n_frames,). A bridged pause is speech for the answer's timeline but may
    still be where one voice hands over to another (decision.requested_voice_changes). Also the recording's speech
    level (Voiced)."""
    c = config
    step = c.vad_frame_ms / 1000.0
    x = samples if normalised else normalise_level(samples, c)
    mask, speech_level_db = voiced_frames(x, c)
    n = len(mask)
    if n == 0 or not mask.any():
        return SpeechFrames(mask, np.zeros(n, dtype=bool), step, speech_level_db)
    heard, mask = mask, mask.copy()                            # as webrtcvad heard it; to be bridged
    bridge = int(round(c.vad_bridge / step))
    for s, e in _runs(~mask):                                  # 2. bridge short interior pauses (measured as
        if s > 0 and e < n and e - s < bridge:                 #    webrtcvad heard them, before the hangover,
            mask[s:e] = True                                   #    so a 0.35 s pause between turns stays one)
    hang = int(round(c.vad_hangover / step))
    out = _with_hangover(mask, hang)                           # 3. hangover
    shortest = int(round(c.vad_min_speech / step))
    for s, e in _runs(out):                                    # ... and drop clicks
        if e - s < shortest:
            out[s:e] = False
    return SpeechFrames(out, out & ~_with_hangover(heard, hang), step, speech_level_db)


def _with_hangover(mask: np.ndarray, hang: int) -> np.ndarray:
    """mask with every True run extended by hang frames after it and hang // 2 before it (a new array)."""
    n = len(mask)
    out = np.zeros(n, dtype=bool)
    for s, e in _runs(mask):
        out[max(0, s - hang // 2):min(n, e + hang)] = True
    return out


def speech_regions(samples: np.ndarray, *, config: PipelineConfig = DEFAULT_CONFIG) -> list[tuple[float, float]]:
    """Speech regions as sorted, non-overlapping (start, end) pairs in seconds."""
    mask, step = speech_mask(samples, config)
    dur = len(samples) / config.sample_rate
    return [(float(s * step), float(min(e * step, dur))) for s, e in _runs(mask)]
