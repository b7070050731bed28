"""Enroll, list, delete and identify: the domain operations, between the HTTP layer and the pipeline/store."""
from __future__ import annotations

import io
import logging
from typing import Callable, Sequence

import numpy as np

from mock_server import audio, errors, pipeline
from mock_server.core.config import ServerConfig
from mock_server.core.profiles import UNKNOWN_SPEAKER, EnrollmentRules
from mock_server.store import SpeakerRecord, Store

log = logging.getLogger(__name__)


def serialise(voiceprint: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(voiceprint), allow_pickle=False)
    return buffer.getvalue()


def deserialise(blob: bytes) -> np.ndarray:
    return pipeline.load_npy(blob)  # one parse at a time: np.load's header parsing is not thread-safe in 3.11


_PARSED_MAX = 1024  # stored voiceprints kept parsed (~5 KB each as key and as array)


_ENROLL_TRIES = 20  # compare-and-swap rounds before giving up on a speaker enrolled that busily

# A canned identify answer for (tenant, speakerIds, request_id), or None: installed by the admin plug-in's stubs.
StubLookup = Callable[[str, Sequence[str], "str | None"], "list[dict] | None"]


def combine_voiceprints(blobs: list[bytes]) -> bytes:
    """A speaker's voiceprint from all its enrollment voiceprints."""
    return serialise(pipeline.speaker_voiceprint([deserialise(b) for b in blobs]))


class SpeakerService:
    """The mock's domain: what enrolling, deleting, listing and identifying mean."""

    def __init__(self, store: Store, config: ServerConfig):
        self.store = store
        self.config = config
        self.sample_rate = pipeline.DEFAULT_CONFIG.sample_rate
        self.rules = EnrollmentRules.from_config(config)
        self.stub_lookup: StubLookup | None = None
        self._parsed: dict[bytes, np.ndarray] = {}

    def warm_up(self) -> None:
        """Prepare the listening model (pipeline.warm_up) so the first enroll or identify does not wait for it."""
        pipeline.warm_up()

    def is_complete(self, record: SpeakerRecord | None) -> bool:
        """The one rule for a usable speaker (per --api-profile: speech in total, or enrollments)."""
        return self.rules.is_complete(record)

    # --- audio --------------------------------------------------------------------------------------------

    def load_audio(self, source: audio.AudioSource, *, max_seconds: float | None = None) -> np.ndarray:
        """Fetch (if a url) and decode a request's audio to pipeline samples; AudioTooLong past ``max_seconds``
        (default --max-audio-seconds)."""
        data = source.content
        if data is None:
            data = audio.fetch_url(source.url, timeout=self.config.url_timeout_seconds,
                                   max_bytes=self.config.url_max_bytes)
        return audio.decode_audio(data, encoding=source.encoding, sample_rate=source.sample_rate,
                                  target_rate=self.sample_rate,
                                  max_seconds=max_seconds or self.config.max_audio_seconds)

    def load_sync_audio(self, source: audio.AudioSource, *, call: str = "identify") -> np.ndarray:
        """A sync call's audio (``call``: "identify" or "enroll"): the vendor's sync APIs take audio under 2 minutes
        (--sync-max-audio-seconds) and send longer audio to the async variant, which keeps --max-audio-seconds;
        enrollment has no async variant, so its answer asks for a shorter recording."""
        limit, overall = self.config.sync_max_audio_seconds, self.config.max_audio_seconds
        try:
            samples = self.load_audio(source, max_seconds=min(limit, overall))  # decoding stops at the limit
        except errors.AudioTooManySamples:
            raise  # the decoded-sample cap, not the duration: async would refuse it too
        except errors.AudioTooLong:
            if limit >= overall:
                raise  # too long for async as well: the 413 says so
            samples = None
        if samples is None or len(samples) >= limit * self.sample_rate:
            lasts = f"{len(samples) / self.sample_rate:.0f} s" if samples is not None else f"over {limit:g} s"
            if call == "enroll":
                advice = ("Enrollment has no async variant: send a shorter recording (each enrollment needs "
                          f"{self.config.min_enroll_speech_seconds:g} s of speech, and "
                          f"{self.config.complete_speech_seconds:g} s in total complete a speaker).")
            else:
                advice = ("Send it to POST .../async/diarization/identify?webhook=URL instead, which takes up to "
                          f"{overall:g} s (--max-audio-seconds).")
            raise errors.AudioTooLongForSync(
                f"the audio lasts {lasts}; sync {call} takes audio under {limit:g} s (the vendor's limit for sync "
                f"calls). {advice}")
        return samples

    # --- enrollment -----------------------------------------------------------------------------------------

    def enroll(self, tenant: str, speaker_id: str, source: audio.AudioSource) -> dict:
        """Add one recording to a speaker; the answer the vendor's docs give for the profile in force."""
        self.rules.check_speaker_id(speaker_id)
        samples = self.load_sync_audio(source, call="enroll")
        return self.enroll_samples(tenant, speaker_id, samples)

    def enroll_samples(self, tenant: str, speaker_id: str, samples: np.ndarray) -> dict:
        """Enroll decoded samples (mono float32 at ``sample_rate``).

        Speech is measured first (the 2020 rules refuse an enrollment with too little); the speaker's voiceprint
        is fitted outside the store's write lock, then stored only if no other enrollment of the speaker landed
        meanwhile (else fitted again from the new set). Raises NoSpeech / InsufficientSpeech."""
        speech = sum(end - start for start, end in pipeline.speech_regions(samples))
        self.rules.check_enrollment(speech)  # first: 0 s is less than the 2020 minimum, and answered as such
        if speech <= 0:
            raise errors.NoSpeech("no speech was heard in the recording. Enroll a recording of the speaker "
                                  "talking (12-24 s).")
        try:
            voiceprint = serialise(pipeline.enrollment_voiceprint(samples))
        except pipeline.NoSpeechError as exc:
            raise errors.NoSpeech(f"{exc} Enroll a recording of the speaker talking (12-24 s).") from None
        pcm = audio.encode_pcm16(samples)
        # enrollments stored by an older model are recomputed first (as identify does): the new voiceprint is
        # combined with those of the current model only. One the current model hears no speech in counts, as
        # nothing: the new recording may still complete the speaker.
        if self.store.stale_speakers(tenant, [speaker_id], pipeline.MODEL_VERSION):
            self.store.replace_voiceprints(tenant, speaker_id, enrollment_voiceprints=[
                serialise(p) for p in self._recomputed(tenant, speaker_id)], voiceprint=None,
                model_version=pipeline.MODEL_VERSION)
        for _ in range(_ENROLL_TRIES):
            existing = self.store.enrollment_voiceprints(tenant, speaker_id, pipeline.MODEL_VERSION)
            combined = combine_voiceprints(existing + [voiceprint])
            record = self.store.add_enrollment(tenant, speaker_id, audio=pcm, voiceprint=voiceprint,
                                               combined=combined, model_version=pipeline.MODEL_VERSION,
                                               expected_count=len(existing), audio_seconds=len(samples) /
                                               self.sample_rate, speech_seconds=round(speech, 3))
            if record is not None:
                return self.rules.enroll_answer(self._measured(tenant, record))
        raise errors.QueueFull(f"speaker {speaker_id!r} is being enrolled by many requests at once; retry.",
                               headers={"Retry-After": "1"})

    def delete(self, tenant: str, speaker_id: str) -> None:
        if not self.store.delete_speaker(tenant, speaker_id):
            raise errors.SpeakerNotFound(f"speaker {speaker_id!r} is not enrolled under this api key; "
                                         "list them with GET .../sync/diarization/get_enrolled_speakers.")

    def speaker_status(self, tenant: str, speaker_id: str) -> str:
        """"complete", "incomplete" or "absent": where one speaker of this key stands."""
        record = self._records(tenant, [speaker_id]).get(speaker_id)
        if record is None:
            return "absent"
        return "complete" if self.is_complete(record) else "incomplete"

    def enrollment_status(self, tenant: str, speaker_id: str) -> dict:
        """GET .../enroll?speakerId= (2020 docs): one speaker's status. Raises SpeakerNotFound."""
        record = self._records(tenant, [speaker_id]).get(speaker_id)
        if record is None:
            raise errors.SpeakerNotFound(f"speaker {speaker_id!r} is not enrolled under this api key; enroll it "
                                         "with POST .../sync/diarization/enroll.")
        return self.rules.status(record)

    def list_speakers(self, tenant: str, *, include_incomplete: bool = False) -> list[dict]:
        """The key's speakers, oldest first, as the vendor lists them: under the 2020 docs only complete ones
        unless ``include_incomplete`` (getAllSpeakers=True); under the 2019 docs all of them."""
        everyone = include_incomplete or not self.rules.measures_speech
        return [self.rules.list_entry(r) for r in self._records(tenant).values()
                if everyone or self.is_complete(r)]

    # --- identification -------------------------------------------------------------------------------------

    def check_speakers(self, tenant: str, speaker_ids: Sequence[str]) -> None:
        """Refuse ids this key has not enrolled, or not enrolled enough, naming them."""
        self._check(speaker_ids, self._records(tenant, speaker_ids))

    def _check(self, speaker_ids: Sequence[str], records: dict[str, SpeakerRecord]) -> None:
        unknown = [s for s in speaker_ids if s not in records]
        if unknown:
            raise errors.UnknownSpeakers(f"speakerIds not enrolled under this api key: {_names(unknown)}; enroll "
                                         "them first with POST .../sync/diarization/enroll.")
        incomplete = [s for s in speaker_ids if not self.is_complete(records[s])]
        if incomplete:
            raise errors.IncompleteEnrollment(
                f"speakerIds whose enrollment is not complete: {_names(incomplete)}; each needs "
                f"{self.rules.what_completes()} ({self.rules.how_to_tell_complete()}).")

    def prepare_identify(self, tenant: str, speaker_ids: Sequence[str], *,
                         request_id: str | None = None) -> list[dict] | None:
        """The first steps of every identify, sync, async or streamed, in this order: a stub registered through
        the admin API answers (its segments are returned), else the speakers are checked (raising
        UnknownSpeakers / IncompleteEnrollment) and None is returned: go on and listen."""
        if self.stub_lookup is not None:
            stubbed = self.stub_lookup(tenant, speaker_ids, request_id)
            if stubbed is not None:
                return stubbed
        self.check_speakers(tenant, speaker_ids)
        return None

    def identify(self, tenant: str, speaker_ids: Sequence[str], source: audio.AudioSource, *,
                 sync: bool = False) -> list[dict]:
        """Who speaks when among ``speaker_ids`` in the request's audio (``sync``: under the sync length limit)."""
        stubbed = self.prepare_identify(tenant, speaker_ids)
        if stubbed is not None:
            return stubbed
        return self.listen(tenant, speaker_ids, source, sync=sync)

    def listen(self, tenant: str, speaker_ids: Sequence[str], source: audio.AudioSource, *,
               sync: bool = False) -> list[dict]:
        """Fetch and decode the audio, then identify (after prepare_identify; also an async job's work)."""
        samples = self.load_sync_audio(source) if sync else self.load_audio(source)
        return self.identify_samples(tenant, speaker_ids, samples)

    def identify_samples(self, tenant: str, speaker_ids: Sequence[str], samples: np.ndarray) -> list[dict]:
        """Who speaks when among ``speaker_ids`` in decoded samples; unknown speech is UNKNOWN_SPEAKER. Consumes
        samples: the pipeline normalises their level in place (one 38 MB copy less for 10 minutes)."""
        segments = pipeline.identify_segments(samples, self.voiceprints(tenant, speaker_ids), overwrite_samples=True)
        wanted = set(speaker_ids)
        return [{"speaker_id": s.speaker_id if s.speaker_id in wanted else UNKNOWN_SPEAKER, "start": s.start,
                 "end": s.end} for s in segments]

    def voiceprints(self, tenant: str, speaker_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Requested id -> voiceprint: what identify compares a recording with (also per pass of a realtime
        stream). Only the requested voices are read (scored against the model's fixed background voices): the
        account's other voices neither veto a requested one nor cost anything. Raises UnknownSpeakers or
        IncompleteEnrollment like check_speakers."""
        records = self._current(tenant, self._records(tenant, list(speaker_ids)))
        self._check(speaker_ids, records)  # again: a delete may have raced the audio download
        return {s: self._voiceprint(records[s].voiceprint) for s in speaker_ids}

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

    def _records(self, tenant: str, speaker_ids: Sequence[str] | None = None) -> dict[str, SpeakerRecord]:
        """The key's speakers (all, or these ids), with the speech of enrollments stored before it was kept
        measured now (once) from their kept audio."""
        records = self.store.speakers(tenant, speaker_ids)
        return {s: self._measured(tenant, r) for s, r in records.items()}

    def _measured(self, tenant: str, record: SpeakerRecord) -> SpeakerRecord:
        if record.speech_seconds is not None:
            return record
        unmeasured = self.store.unmeasured_enrollments(tenant, record.speaker_id)
        seconds = {row: round(sum(e - s for s, e in pipeline.speech_regions(audio.decode_pcm16(pcm))), 3)
                   for row, pcm in unmeasured.items()}
        self.store.set_speech_seconds(tenant, record.speaker_id, seconds)
        return self.store.speakers(tenant, [record.speaker_id]).get(record.speaker_id, record)

    def _current(self, tenant: str, records: dict[str, SpeakerRecord]) -> dict[str, SpeakerRecord]:
        """Recompute voiceprints stored by an older model from their kept audio, so a model change is invisible
        (for the speakers asked about: each is brought up to date the first time a request needs it)."""
        stale = sorted(self.store.stale_speakers(tenant, list(records), pipeline.MODEL_VERSION))
        for speaker_id in stale:
            log.info("recomputing the voiceprints of a speaker stored by model %s", records[speaker_id].model_version)
            prints = self._recomputed(tenant, speaker_id)
            try:
                combined = pipeline.speaker_voiceprint(prints)
            except pipeline.NoSpeechError:
                raise errors.IncompleteEnrollment(
                    f"speaker {speaker_id!r} was enrolled under an older voice model and the current one finds no "
                    "speech in its recordings; delete it and enroll it again.") from None
            self.store.replace_voiceprints(tenant, speaker_id, enrollment_voiceprints=[serialise(p) for p in prints],
                                           voiceprint=serialise(combined), model_version=pipeline.MODEL_VERSION)
        return self._records(tenant, list(records)) if stale else records

    def _recomputed(self, tenant: str, speaker_id: str) -> list[np.ndarray]:
        """The speaker's enrollment voiceprints recomputed by the current model from the kept audio, oldest first."""
        return [self._enrollment_frames(pcm) for pcm in self.store.enrollment_audio(tenant, speaker_id)]

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
