"""Every tunable of the pipeline, in one frozen dataclass.

Each field says its unit and the range that makes sense. Defaults were chosen to be
self-calibrating (scores are normalised per request) rather than fitted to one data set;
see scripts/pipeline_eval.py for the sweep / leave-speaker-out checks behind them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PipelineConfig:
    # ---- input -------------------------------------------------------------------------
    sample_rate: int = 16000          # Hz; samples handed to the pipeline. webrtcvad: 8000/16000/32000/48000

    # ---- speech detection (speech.py) --------------------------------------------------
    vad_mode: int = 2                 # webrtcvad aggressiveness, 0 (lenient) .. 3 (strict)
    vad_frame_ms: int = 30            # ms per VAD decision; webrtcvad accepts 10, 20 or 30
    vad_hangover: float = 0.05        # s added after (and half before) every voiced run, 0 .. 0.5
    vad_bridge: float = 0.30          # s; pauses shorter than this inside speech are bridged, 0 .. 1.5
    vad_min_speech: float = 0.25      # s; shorter isolated regions are dropped as clicks, 0 .. 1
    vad_min_level: float = 3e-3       # RMS (full scale 1.0) a frame needs to count as speech, 0 .. 0.05;
                                      # stops webrtcvad from firing on faint noise

    # ---- features (features.py) --------------------------------------------------------
    n_fft: int = 512                  # FFT size in samples (32 ms at 16 kHz), power of two >= win_length
    win_length: int = 400             # analysis window, samples (25 ms)
    hop_length: int = 160             # frame step, samples (10 ms) -> 100 frames/s
    n_mels: int = 32                  # mel bands, 20 .. 64
    fmin: float = 100.0               # Hz, lowest mel edge; 0 .. 300
    fmax: float = 3800.0              # Hz, highest mel edge; < 4000 so 8 kHz telephone audio matches
    n_mfcc: int = 20                  # cepstra computed (c0 included), 13 .. n_mels
    drop_c0: bool = True              # c0 is loudness, not voice: dropped from the speaker features
    top_db: float | None = 80.0       # dB dynamic range kept by power_to_db (librosa default), None = off
    use_deltas: bool = True           # append first-order deltas (dynamics of the voice)
    delta_width: int = 2              # frames each side in the delta regression, 1 .. 4
    cmn_window: float = 0.0           # s; sliding cepstral mean normalisation window, 0 = off

    # ---- voiceprint: a diagonal GMM per speaker (voiceprint.py) ------------------------
    gmm_components: int = 16          # max mixture components, 1 .. 64
    frames_per_component: int = 60    # fewer frames than this per component shrink the GMM, 20 .. 200
    gmm_iterations: int = 8           # EM iterations after the k-means-like init, 1 .. 30
    var_floor: float = 0.05           # variance floor as a fraction of the speaker's global variance, 0.001 .. 0.5
    max_voiceprint_frames: int = 12000  # frames kept per speaker (120 s); deterministic decimation beyond
    min_enroll_speech: float = 0.2    # s of detected speech an enrollment needs, 0.1 .. 3

    # ---- scoring, decision and smoothing (scoring.py, decision.py) ---------------------
    score_decimation: int = 2         # score every n-th speech frame (speed), 1 .. 4
    smooth_window: float = 1.0        # s of speech averaged per decision, 0.5 .. 3
    min_margin: float = 0.3           # nats/frame a turn's speaker must beat every other enrolled voice by, 0 .. 2
    rel_margin: float = 0.35          # ... and this fraction of the clearest margin among that speaker's turns, 0 .. 0.9
    min_reference_turn: float = 2.0   # s of speech a speaker needs before a reference margin is trusted, 0 .. 3
    change_window: float = 1.0        # s of speech each side compared when looking for a change of voice
                                      # inside a speech region (decision.voice_changes), 0.5 .. 2
    change_factor: float = 3.0        # a change of voice is a peak of the change score above this many times
                                      # the recording's median score; 0 = never split, 2 .. 6
    thin_enrollment: float = 3.0      # s; unknown speech goes to the one requested speaker found nowhere else
                                      # when all others were found and that one was enrolled from less speech
                                      # than this (decision.name_leftover_voice); 0 = never, 0 .. 10
    min_turn: float = 0.8             # s; shorter label runs are absorbed by their neighbours, 0 .. 2
    clip_background_components: int = 1  # Gaussians in the per-request background used when a request has no
                                      # other enrolled voice to compare with (voiceprint.clip_background), 1 .. 4
    block: float = 0.1                # s; resolution of the speaker decision, 0.05 .. 0.25

    # ---- output (segments.py) ----------------------------------------------------------
    max_pause: float = 0.6            # s; a same-speaker pause shorter than this does not split a segment
    min_segment: float = 0.3          # s; a shorter segment abutting another speaker's is folded into it, 0 .. 1

    @property
    def frames_per_second_scored(self) -> float:
        """Scored feature frames per second of speech (derived, not a tunable)."""
        return self.sample_rate / self.hop_length / max(1, self.score_decimation)


DEFAULT_CONFIG = PipelineConfig()
