"""The speaker-identification pipeline: pure functions on numpy arrays, no Flask, no I/O.

decode (mock_server.audio) -> speech regions -> features -> voiceprints -> window scores
-> open-set decision -> temporal smoothing -> segments.

Public contract used by the service layer (kept stable):

    MODEL_VERSION: str                      changes whenever stored voiceprints become incompatible
    DEFAULT_CONFIG: PipelineConfig          every tunable, documented
    NoSpeechError(ValueError)               raised when a recording has no usable speech
    enrollment_voiceprint(samples, *, config=DEFAULT_CONFIG) -> np.ndarray[float32]
    speaker_voiceprint(enrollments, *, config=DEFAULT_CONFIG) -> np.ndarray[float32]
    identify_segments(samples, voiceprints, *, config=DEFAULT_CONFIG) -> list[Segment]

`samples` are mono float32 in [-1, 1] at DEFAULT_CONFIG.sample_rate (16 kHz).
"""
