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
    vad_floor_percentile: float = 5.0  # percentile of 30 ms frame levels taken as the recording's noise floor
    vad_floor_margin: float = 3.0     # dB above that floor a frame needs to count as speech, 0 .. 20;
                                      # stops webrtcvad (which fires on noise at any level) from taking hiss
                                      # for speech, judged against the recording itself
    vad_min_range: float = 6.0        # dB the speech level must exceed the floor by for any speech at all
                                      # (a recording of steady noise has no speech), 3 .. 20
    vad_dynamic_range: float = 50.0   # dB below the recording's speech level where nothing counts as speech
                                      # (e.g. the rounding noise of a quiet 16-bit recording), 30 .. 60
    level_top_seconds: float = 1.0    # s; the speech level is that of the loudest second of frames (level.py)
    level_target_db: float = -26.0    # dBFS the speech level is brought to before speech detection and features

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

    # ---- voiceprint and decision (voiceprint.py, ubm.py, identify.py, decision.py) ------------
    # The UBM size and top-C are properties of the trained model file (ubm.py).
    relevance: float = 16.0           # MAP relevance factor r (Reynolds et al. 2000 use 16): a Gaussian moves
                                      # N / (N + r) of the way to its frames' mean, 4 .. 32
    min_enroll_speech: float = 0.2    # s of detected speech an enrollment needs, 0.1 .. 3
    snorm_top: int = 60                # adaptive S-norm: background voices (the closest) that set each score's
                                      # scale, 0 = all of them (ubm.top_stats), 0 .. 169
    accept_threshold: float = 1.5     # S-norm score a turn's best requested speaker needs, else "unknown";
                                      # dimensionless (background-voice standard deviations), 1 .. 4. Chosen
                                      # on half B of the dev speaker split with the eigenvoice offsets (ubm.py):
                                      # half B IER 0.095 at 1.0 (strangers named: its conversations 0.078),
                                      # 0.068 at 1.25, 0.064 at 1.5
    full_enroll_seconds: float = 5.0  # s of enrolled speech from which a voice's scores need no calibration; a
                                      # voice enrolled from T < this many seconds has accept_threshold *
                                      # (1 - sqrt(T / this)) added to its scores (decision.enrollment_shift), 0 = off.
                                      # Chosen on made-up conversations of voices enrolled from one ~1.7 s clip
                                      # (pipeline_eval.py --synthetic 60 --abutting): 0.191 / 0.296 at 0,
                                      # 0.160 / 0.262 at 5; dev halves unchanged (their enrollments are longer)
    max_noise_shift: float = 1.0      # added to every score of a noisy recording (decision.noise_shift): 0 when
                                      # its speech stands noise_shift_from_db or more above the noise of its pauses
                                      # (speech.speech_to_noise), this much at noise_shift_full_db or less, linear
                                      # between; 0 = off, 0 .. 2. Chosen on white noise at 20 dB SNR added to
                                      # the dev tests (pipeline_eval.py --noise; IER 0.364 at 0, 0.316 at 0.5, 0.281
                                      # at 1, 0.264 at 1.5, with a first noise measure), checked on brown noise
                                      # and 10 dB, where more turns unknown speech into wrong voices. Now white
                                      # 20 dB / 10 dB / brown 15 dB: 0.279 / 0.695 / 0.187 (0.364 / 0.769 / 0.227
                                      # at 0), both halves gain; clean answers unchanged; strangers named more
    noise_shift_from_db: float = 30.0  # dB of speech over the pauses' noise below which the shift starts, 20 .. 40
    noise_shift_full_db: float = 25.0  # dB at and below which all of max_noise_shift applies, < noise_shift_from_db
    noise_pause_seconds: float = 1.0  # s of pauses (not digital silence) a recording needs for its noise to be
                                      # measured, else no shift: 2 s clips of continuous speech have fewer, and
                                      # their quietest frames are gaps between words 15-30 dB under the speech
    frame_decimation: int = 1         # every n-th speech frame is scored (speed; 10 ms frames overlap), 1 .. 4
    block: float = 0.1                # s of speech per block: the resolution of turn boundaries, 0.05 .. 0.5
    change_window: float = 1.0        # s of speech each side compared when looking for a change of voice
                                      # inside a speech region (decision.voice_changes), 0.5 .. 2
    change_factor: float = 2.0        # a change of voice is a peak of the change score above this many times
                                      # the recording's median score; 0 = never split, 2 .. 6
    label_changes: bool = True        # also cut where the speaking requested voice changes
    #                                   (decision.requested_voice_changes)
    label_window: float = 1.0         # s of speech the requested voices are compared over for that, 0.5 .. 3
    label_tnorm_weight: float = 0.5   # share of the window's T-norm score (against the change-detection
                                      # background voices) added to its Z-norm score in that comparison, 0 .. 1;
                                      # 0 = Z-norm alone, which favours the voice whose enrollment matches the
                                      # recording's channel. Chosen on made-up conversations with no pause
                                      # between turns (pipeline_eval.py --synthetic 60 --abutting): 0.319 at 0,
                                      # 0.296 at 0.5 (with a minimum turn of 0.8 s); dev halves A 0.058 -> 0.058,
                                      # B 0.064 -> 0.061
    label_switch_cost: float = 1.0    # score x s: what a change of speaker inside continuous speech costs in the
                                      # Viterbi labelling (decision.requested_voice_changes); the other voice must
                                      # lead by that much window score x seconds, e.g. 1 for 1 s or 2 for 0.5 s,
                                      # 0.3 .. 3. Chosen with label_pause_switch_cost on the dev speaker split
                                      # (pipeline_eval.py --halves; A / B) as the price that makes no group of
                                      # either half worse: 0.5 0.054 / 0.078, 0.7 0.056 / 0.071, 1 0.053 / 0.061,
                                      # 1.5 0.052 / 0.058 (but B's meeting 0.212 -> 0.284 and abutting made-up
                                      # turns 0.257 -> 0.274), 2 0.054 / 0.059. It replaced a shortest turn of 0.8 s
                                      # (shorter runs absorbed unless bounded by pauses): A 0.058, B 0.061
    label_pause_switch_cost: float = 0.3   # score x s: the same within two blocks of a bridged pause, where turns
                                      # change hands, 0 .. label_switch_cost. Half A / half B with the cost 1:
                                      # 0 0.052 / 0.063 (B's meeting 0.212 -> 0.299), 0.3 0.053 / 0.061, 0.5
                                      # 0.054 / 0.061, 1 0.060 / 0.061; made-up phone-band conversations of 0.4-1 s
                                      # turns (--synthetic 60 --short-turns, seeds 0/1/2): 0.262-0.282 at 0,
                                      # 0.265-0.284 at 0.3, 0.267-0.287 at 0.5, 0.274-0.299 at 1
    min_paused_run: float = 0.3       # s; a piece of speech between two pauses shorter than vad_bridge (bridged,
                                      # so one stretch of speech with its neighbours) from this long and no longer
                                      # than label_window is scored on its own frames, not over the window around
                                      # it (decision.requested_voice_changes), 0 = off. 0.3 s: the shortest answer
                                      # the listening issue names. Made-up phone-band conversations of 0.4-1 s
                                      # turns with 0.2-0.8 s pauses (pipeline_eval.py --synthetic 60 --short-turns,
                                      # seeds 0/1/2): 0.287/0.265/0.277 at 0, 0.284/0.265/0.275 at 0.3; dev halves
                                      # unchanged (A 0.053, B 0.061). At 0 the 0.37 s "Yes." between 0.2 s pauses
                                      # of tests/test_pipeline_identify.py goes to alice
    change_background_voices: int = 32   # fixed background voices in the change-detection profile, 0 .. 121

    # ---- output (segments.py) ----------------------------------------------------------
    max_pause: float = 0.6            # s; a same-speaker pause shorter than this does not split a segment
    min_segment: float = 0.3          # s; a shorter segment abutting another speaker's is folded into it, 0 .. 1


DEFAULT_CONFIG = PipelineConfig()
