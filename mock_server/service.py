"""Enroll, list, delete and identify: the domain operations, between the HTTP layer and the pipeline/store."""
from __future__ import annotations

import io
import logging
from typing import Sequence

import numpy as np

from . import audio, errors, pipeline
from .config import ServerConfig
from .store import SpeakerRecord, Store

log = logging.getLogger(__name__)


def serialise(voiceprint: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(voiceprint), allow_pickle=False)
    return buffer.getvalue()


def deserialise(blob: bytes) -> np.ndarray:
    return np.load(io.BytesIO(blob), allow_pickle=False)


_PARSED_MAX = 1024  # stored voiceprints kept parsed (~5 KB each as key and as array)


def combine_voiceprints(blobs: list[bytes]) -> bytes:
    """A speaker's voiceprint from all its enrollment voiceprints (the store calls this inside its write)."""
    return serialise(pipeline.speaker_voiceprint([deserialise(b) for b in blobs]))


class SpeakerService:
    """The mock's domain: what enrolling, deleting, listing and identifying mean."""

    def __init__(self, store: Store, config: ServerConfig):
        self.store = store
        self.config = config
        self.sample_rate = pipeline.DEFAULT_CONFIG.sample_rate
        self._parsed: dict[bytes, np.ndarray] = {}

    # --- audio --------------------------------------------------------------------------------------------

    def load_audio(self, source: audio.AudioSource) -> np.ndarray:
        """Fetch (if a url) and decode a request's audio to pipeline samples."""
        data = source.content
        if data is None:
            data = audio.fetch_url(source.url, timeout=self.config.url_timeout_seconds,
                                   max_bytes=self.config.url_max_bytes)
        return audio.decode_audio(data, encoding=source.encoding, sample_rate=source.sample_rate,
                                  target_rate=self.sample_rate, max_seconds=self.config.max_audio_seconds)

    # --- enrollment -----------------------------------------------------------------------------------------

    def enroll(self, tenant: str, speaker_id: str, source: audio.AudioSource) -> str:
        """Add one recording to a speaker; answer "Success", or "Complete" once it has enough of them."""
        samples = self.load_audio(source)
        return self.enroll_samples(tenant, speaker_id, samples)

    def enroll_samples(self, tenant: str, speaker_id: str, samples: np.ndarray) -> str:
        try:
            voiceprint = pipeline.enrollment_voiceprint(samples)
        except pipeline.NoSpeechError as exc:
            raise errors.NoSpeech(f"{exc} Enroll a recording of the speaker talking (about 10 s).") from None
        count = self.store.add_enrollment(tenant, speaker_id, audio=audio.encode_pcm16(samples),
                                          voiceprint=serialise(voiceprint), model_version=pipeline.MODEL_VERSION,
                                          combine=combine_voiceprints)
        return "Complete" if count >= self.config.enrollments_required else "Success"

    def delete(self, tenant: str, speaker_id: str) -> None:
        if not self.store.delete_speaker(tenant, speaker_id):
            raise errors.SpeakerNotFound(f"speaker {speaker_id!r} is not enrolled under this api key; "
                                         "list them with GET .../sync/diarization/get_enrolled_speakers.")

    def list_speakers(self, tenant: str) -> list[dict]:
        required = self.config.enrollments_required
        return [record.to_dict(required=required) for record in self.store.speakers(tenant).values()]

    # --- identification -------------------------------------------------------------------------------------

    def check_speakers(self, tenant: str, speaker_ids: Sequence[str]) -> None:
        """Refuse ids this key has not enrolled, or not enrolled enough, naming them."""
        self._check(speaker_ids, self.store.speakers(tenant, speaker_ids))

    def _check(self, speaker_ids: Sequence[str], records: dict[str, SpeakerRecord]) -> None:
        unknown = [s for s in speaker_ids if s not in records]
        if unknown:
            raise errors.UnknownSpeakers(f"speakerIds not enrolled under this api key: {_names(unknown)}; enroll "
                                         "them first with POST .../sync/diarization/enroll.")
        required = self.config.enrollments_required
        incomplete = [s for s in speaker_ids if records[s].enrollments < required]
        if incomplete:
            raise errors.IncompleteEnrollment(
                f"speakerIds whose enrollment is not complete: {_names(incomplete)}; each needs {required} "
                "enrollments (keep enrolling until the answer is \"Complete\").")

    def identify(self, tenant: str, speaker_ids: Sequence[str], source: audio.AudioSource) -> list[dict]:
        """Who speaks when among ``speaker_ids`` in the request's audio."""
        self.check_speakers(tenant, speaker_ids)
        samples = self.load_audio(source)
        return self.identify_samples(tenant, speaker_ids, samples)

    def identify_samples(self, tenant: str, speaker_ids: Sequence[str], samples: np.ndarray) -> list[dict]:
        # Only the requested voices are read and scored (against the model's fixed background voices): the
        # account's other voices must neither veto a requested one nor cost anything.
        records = self._current(tenant, self.store.speakers(tenant, list(speaker_ids)))
        self._check(speaker_ids, records)  # again: a delete may have raced the audio download
        voiceprints = {s: self._voiceprint(records[s].voiceprint) for s in speaker_ids}
        segments = pipeline.identify_segments(samples, voiceprints)
        return [{"speaker_id": s.speaker_id, "start": s.start, "end": s.end} for s in segments]

    def _voiceprint(self, blob: bytes) -> np.ndarray:
        """A stored voiceprint, parsed once per distinct blob: np.load's header parsing costs ~70 us and every
        identify reads all of the account's voiceprints. Keyed by content, so a changed voiceprint is a new
        entry; read-only, as it is shared between requests."""
        parsed = self._parsed.get(blob)
        if parsed is None:
            if len(self._parsed) >= _PARSED_MAX:
                self._parsed.clear()
            parsed = deserialise(blob)
            parsed.setflags(write=False)
            self._parsed[blob] = parsed
        return parsed

    def _current(self, tenant: str, records: dict[str, SpeakerRecord]) -> dict[str, SpeakerRecord]:
        """Recompute voiceprints stored by an older model from their kept audio, so a model change is invisible
        (for the speakers asked about: each is brought up to date the first time a request needs it)."""
        stale = [s for s, r in records.items() if r.model_version != pipeline.MODEL_VERSION]
        for speaker_id in stale:
            log.info("recomputing voiceprint of a speaker stored by model %s", records[speaker_id].model_version)
            prints = [self._enrollment_frames(pcm) for pcm in self.store.enrollment_audio(tenant, speaker_id)]
            try:
                combined = pipeline.speaker_voiceprint(prints)
            except pipeline.NoSpeechError:
                raise errors.IncompleteEnrollment(
                    f"speaker {speaker_id!r} was enrolled under an older voice model and the current one finds no "
                    "speech in its recordings; delete it and enroll it again.") from None
            self.store.replace_voiceprints(tenant, speaker_id, enrollment_voiceprints=[serialise(p) for p in prints],
                                           voiceprint=serialise(combined), model_version=pipeline.MODEL_VERSION)
        return self.store.speakers(tenant, list(records)) if stale else records


    @staticmethod
    def _enrollment_frames(pcm: bytes) -> np.ndarray:
        """An enrollment voiceprint recomputed from kept audio; empty when the current model hears no speech,
        so every stored enrollment keeps its row (speaker_voiceprint skips empty ones)."""
        try:
            return pipeline.enrollment_voiceprint(audio.decode_pcm16(pcm))
        except pipeline.NoSpeechError:
            return np.zeros((0,), dtype=np.float32)


def _names(ids: Sequence[str]) -> str:
    return ", ".join(repr(i) for i in ids)
