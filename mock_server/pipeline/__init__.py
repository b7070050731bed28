"""The speaker-identification pipeline: pure functions on numpy arrays, no Flask, no I/O.

decode (done by the server) -> level normalisation (level.py) -> speech regions (speech.py)
-> MFCC features (features.py) -> statistics through a universal background model trained on other
voices (ubm.py, models/voices.npz by scripts/train_voice_model.py) -> voiceprints: MAP-adapted
models (voiceprint.py) -> turns and one S-norm-scored decision per turn (decision.py)
-> segments (segments.py); identify.py wires them together.

Public contract used by the service layer (kept stable):

    MODEL_VERSION: str                      changes whenever stored voiceprints become incompatible
    MODEL_FILE_SHA256: str                  the digest of models/voices.npz that MODEL_VERSION goes with
    VOICEPRINT_RECIPE_SHA256: str           the digest of the voiceprint-shaping settings it goes with
    PipelineConfig, DEFAULT_CONFIG          every tunable, documented (config.py)
    NoSpeechError(ValueError)               raised when a recording has no usable speech
    Segment(speaker_id, start, end)         seconds, 2 decimals
    enrollment_voiceprint(samples, *, config=DEFAULT_CONFIG) -> np.ndarray[float32]
    speaker_voiceprint(enrollments, *, config=DEFAULT_CONFIG) -> np.ndarray[float32]
    identify_segments(samples, voiceprints, *, config=DEFAULT_CONFIG, cohort=None,
                      overwrite_samples=False) -> list[Segment]
                                            (cohort accepted and ignored; overwrite_samples lets it
                                            normalise the caller's float32 samples in place)
    identify(... the same ...) -> Identification(segments, noise_shift)
                                            the segments and what every score got for the recording's noise
    speech_regions(samples, *, config=DEFAULT_CONFIG) -> list[tuple[float, float]]
    warm_up(config=DEFAULT_CONFIG)          loads and derives the model before the first request needs it
    load_npy(data) -> np.ndarray            np.save's bytes parsed, safe from any thread (npy.py)

`samples` are mono float32 in [-1, 1] at DEFAULT_CONFIG.sample_rate (16 kHz).
"""

from .config import DEFAULT_CONFIG, PipelineConfig
from .errors import NoSpeechError
from .identify import Identification, identify, identify_segments
from .npy import load_npy
from .segments import Segment
from .speech import speech_regions
from .ubm import voice_model
from .voiceprint import enrollment_voiceprint, speaker_voiceprint


def warm_up(config: PipelineConfig = DEFAULT_CONFIG) -> None:
    """Load the model of voices and derive what every enroll and identify needs from it (the eigenvoices and the
    background speakers' offsets: ~0.1 s), so that the first request does not wait for it. Idempotent and safe
    from any thread (everything it fills is computed once per process)."""
    voice_model().background_speakers(config.relevance)


# Enrollment voiceprints are Baum-Welch statistics against the committed UBM, and a speaker's voiceprint the offsets
# made from them (ubm.VoiceModel.map_offsets); bump whenever the features, the speech detection, the offsets' recipe
# or models/voices.npz change (the service then recomputes them from the kept audio).
MODEL_VERSION = "mfcc20-d-3800hz-ubm128-eigenvoice40-map16-snorm-v4"
# The digest of models/voices.npz that MODEL_VERSION was set for (tests/test_pipeline_model.py compares them, so
# a retrained model cannot ship under the old version by mistake).
MODEL_FILE_SHA256 = "76c357df77d6121a2ef76a94834da56d10fab9b66383c4a342dc9ad399ff8edf"
# ... and the digest of the settings that shape voiceprints (config fields and ubm.py's recipe constants; the test
# lists them), so a changed setting cannot keep stale stored voiceprints either.
VOICEPRINT_RECIPE_SHA256 = "b69659aa659e9ed7e3bc459ce1a09a8d884b717408f031f2b0c7314d337f277e"

__all__ = [
    "MODEL_VERSION", "MODEL_FILE_SHA256", "VOICEPRINT_RECIPE_SHA256", "PipelineConfig", "DEFAULT_CONFIG",
    "NoSpeechError", "Segment",
    "enrollment_voiceprint", "speaker_voiceprint", "identify_segments", "identify", "Identification",
    "speech_regions", "warm_up", "load_npy",
]
