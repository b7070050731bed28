"""The vendor's documentation as the mock answers it, per era (``--api-profile``).

One service whose enrollment changed: the 2020 docs (vendor-docs-2020.md, "Enrollment") measure speech, the
2018-19 docs (speaker-enrollment-api.md) count recordings. Everything else (fault bodies,
``UserNotIdentified``, 202 for async, the webhook policy, the sync limit) holds in both profiles.

- enroll answer: 2020 ``message``, ``speaker_id``, ``enrollment_complete`` (bool), ``enroll_quality``,
  ``total_speech_duration``, ``total_enroll_duration``; 2019 ``{"message": "Success" | "Complete"}``.
- one enrollment needs: 2020 >= 6 s of speech (--min-enroll-speech; none at all is refused the same way);
  2019 any speech (none: no_speech).
- a speaker is complete at: 2020 12 s of speech in total (--complete-speech); 2019 N enrollments
  (--enrollments-required).
- speakerId: 2020 ``[a-zA-Z0-9_]+``; 2019 any id (<= 256 characters).
- ``GET .../enroll?speakerId=``: 2020 the speaker's status; 2019 405 (no such call).
- get_enrolled_speakers: 2020 complete speakers (``getAllSpeakers=True``: all), booleans and durations;
  2019 every speaker, "True"/"False" strings.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from mock_server import errors
from mock_server.core.config import ServerConfig
from mock_server.store import SpeakerRecord

# The label of speech that matches none of the requested voices (vendor-docs-2020.md, "Identify").
UNKNOWN_SPEAKER = "UserNotIdentified"

SPEAKER_ID_2020 = re.compile(r"[a-zA-Z0-9_]+")

# enroll_quality grades by the speaker's total speech, in multiples of the completeness total (12 s by default):
# the docs name the grades (poor, average, good, high) and show 20 s of speech graded "average"; they do not say
# where the bounds lie, so the mock's are: poor below complete, average below 2x, good below 4x, high above.
QUALITY_BOUNDS = ((1.0, "poor"), (2.0, "average"), (4.0, "good"))


@dataclass(frozen=True)
class EnrollmentRules:
    """What enrolling means under one profile; built from the server's settings."""

    profile: str
    enrollments_required: int
    min_speech_seconds: float
    complete_speech_seconds: float

    @classmethod
    def from_config(cls, config: ServerConfig) -> EnrollmentRules:
        return cls(config.api_profile, config.enrollments_required, config.min_enroll_speech_seconds,
                   config.complete_speech_seconds)

    @property
    def measures_speech(self) -> bool:
        return self.profile == "2020"

    def check_speaker_id(self, speaker_id: str) -> None:
        """Both profiles: not UNKNOWN_SPEAKER, or identify's answers could not tell that voice from no voice;
        2020: ids are [a-zA-Z0-9_]+ (raises InvalidParameter)."""
        if speaker_id == UNKNOWN_SPEAKER:
            raise errors.InvalidParameter(
                f"speakerId {speaker_id!r} is the label identify gives speech that matches none of the requested "
                "speakers; a voice enrolled under it could not be told from no match. Choose another id, e.g. "
                "'user_not_identified_1'.")
        if self.measures_speech and not SPEAKER_ID_2020.fullmatch(speaker_id):
            raise errors.InvalidParameter(
                f"speakerId {speaker_id!r} may only hold letters, digits and underscores ([a-zA-Z0-9_]+), e.g. "
                f"{suggested_speaker_id(speaker_id)!r}.")

    def check_enrollment(self, speech_seconds: float) -> None:
        """2020: one enrollment needs min_speech_seconds of speech, and some speech even when that is 0 (raises
        InsufficientSpeech, the vendor's error, also for none at all); 2019: any speech (the caller refuses none
        with NoSpeech)."""
        if not self.measures_speech:
            return
        if speech_seconds <= 0:
            heard = "no speech was heard in the recording"
        elif speech_seconds < self.min_speech_seconds:
            heard = f"{speech_seconds:.1f} s of speech heard"
        else:
            return
        raise errors.InsufficientSpeech(
            f"Insufficent speech content in audio: {heard}, each enrollment needs at least "
            f"{self.min_speech_seconds:g} s. Send 12-24 s of continuous speech of one speaker.")

    def is_complete(self, record: SpeakerRecord | None) -> bool:
        """The one completeness rule: 2020 by total speech, 2019 by the number of enrollments."""
        if record is None:
            return False
        if self.measures_speech:
            return (record.speech_seconds or 0.0) >= self.complete_speech_seconds
        return record.enrollments >= self.enrollments_required

    def what_completes(self) -> str:
        if self.measures_speech:
            return f"{self.complete_speech_seconds:g} s of speech in total"
        return f"{self.enrollments_required} enrollments"

    def how_to_tell_complete(self) -> str:
        """How this profile's answers say a speaker is complete."""
        if self.measures_speech:
            return "keep enrolling until enrollment_complete is true"
        return 'keep enrolling until an enroll answers {"message": "Complete"}'

    def quality(self, record: SpeakerRecord) -> str:
        """poor / average / good / high, from the speaker's total speech (see QUALITY_BOUNDS)."""
        speech = record.speech_seconds or 0.0
        for factor, grade in QUALITY_BOUNDS:
            if speech < factor * self.complete_speech_seconds:
                return grade
        return "high"

    def status(self, record: SpeakerRecord) -> dict:
        """The 2020 docs' per-speaker fields."""
        return {"speaker_id": record.speaker_id, "enrollment_complete": self.is_complete(record),
                "total_speech_duration": round(record.speech_seconds or 0.0, 2),
                "total_enroll_duration": round(record.audio_seconds or 0.0, 2),
                "enroll_quality": self.quality(record)}

    def enroll_answer(self, record: SpeakerRecord) -> dict:
        """What one enroll call answers."""
        if not self.measures_speech:
            return {"message": "Complete" if self.is_complete(record) else "Success"}
        status = self.status(record)
        return {"enroll_quality": status["enroll_quality"], "enrollment_complete": status["enrollment_complete"],
                "message": "Success", "speaker_id": record.speaker_id,
                "total_enroll_duration": status["total_enroll_duration"],
                "total_speech_duration": status["total_speech_duration"]}

    def list_entry(self, record: SpeakerRecord) -> dict:
        """One entry of get_enrolled_speakers."""
        if not self.measures_speech:
            return {"speaker_id": record.speaker_id, "enrollment_complete": str(self.is_complete(record))}
        return self.status(record)


def suggested_speaker_id(speaker_id: str) -> str:
    """A 2020-valid id close to ``speaker_id`` for the 400's example: accents dropped (NFKD: "Zoë" -> "Zoe"), every
    other character outside [a-zA-Z0-9_] an underscore; "speaker_1" when nothing is left."""
    ascii_id = unicodedata.normalize("NFKD", speaker_id).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-zA-Z0-9_]", "_", ascii_id)[:64].strip("_") or "speaker_1"
