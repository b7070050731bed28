"""Listening as issue 10 asks, through the HTTP API (Flask test client): the level of a recording is not the voice,
the account's other voices do not change the answer, a short turn is decided on its own, and a model change
recomputes stored voiceprints from the kept audio."""
from __future__ import annotations

import base64
import io
import json
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import FIXTURES, Api, fixture_samples, running_app

from mock_server.core.config import ServerConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from ier import identification_error_rate  # noqa: E402
from pipeline_eval import speech_power, with_noise  # noqa: E402


def wav_b64(samples: np.ndarray) -> str:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, 16000, format="WAV", subtype="PCM_16")
    return base64.b64encode(buffer.getvalue()).decode()


def segments(response) -> list[tuple[str, float, float]]:
    assert response.status_code == 200, response.get_json()
    return [(s["speaker_id"], s["start"], s["end"]) for s in response.get_json()["segments"]]


def overlap(segs, label: str, start: float, end: float) -> float:
    """Seconds of [start, end) given to label."""
    return sum(max(0.0, min(e, end) - max(s, start)) for lab, s, e in segs if lab == label)


def reference(voices, name: str):
    return [(s["speaker_id"], s["start"], s["end"]) for s in voices["tests"][name]["segments"]]


def test_a_quiet_enrollment_of_clean_speech_is_accepted(api, voices):
    """alice's enrollments 40 dB below their level (speech peaking near -60 dBFS) are still speech."""
    answers = []
    for entry in voices["speakers"]["alice"]["enroll"]:
        quiet = fixture_samples(entry["file"]) * 10 ** (-40 / 20)
        response = api.enroll("alice", entry["file"], encoding="WAV", content=wav_b64(quiet))
        assert response.status_code == 200, response.get_json()
        answers.append(response.get_json())
    assert [a["enrollment_complete"] for a in answers] == [False, True, True]
    assert all(a["total_speech_duration"] > 8 * (n + 1) for n, a in enumerate(answers))  # the speech, all of it


def test_silence_is_still_refused_at_any_level(api):
    """Level normalisation must not turn faint noise into speech: the -70 dBFS noise, 50 dB louder, is refused."""
    noise = fixture_samples("silence.wav")
    for gain_db in (0, 50):
        response = api.enroll("nobody", "silence.wav", encoding="WAV",
                              content=wav_b64(np.clip(noise * 10 ** (gain_db / 20), -1, 1)))
        assert response.status_code == 400 and "speech" in json.dumps(response.get_json()).lower()


def test_the_same_voices_are_matched_30_db_quieter(enrolled_api, voices):
    name = "conversation"
    x = fixture_samples(voices["tests"][name]["file"])
    ref, ids = reference(voices, name), voices["tests"][name]["speakerIds"]
    loud = segments(enrolled_api.identify(voices["tests"][name]["file"], ids))
    quiet = segments(enrolled_api.identify("conversation.wav", ids, encoding="WAV",
                                           content=wav_b64(x * 10 ** (-30 / 20))))
    ier_loud = identification_error_rate(ref, loud)["ier"]
    ier_quiet = identification_error_rate(ref, quiet)["ier"]
    assert ier_loud < 0.15, loud
    assert abs(ier_quiet - ier_loud) <= 0.03, (loud, quiet)


@pytest.mark.parametrize("hum_hz", [50, 60])
def test_the_same_voices_are_matched_over_mains_hum_louder_than_the_speech(enrolled_api, voices, hum_hz):
    """Hum 6 dB above the speech's power (the loudest third of its 10 ms frames) made the recording look like
    steady noise: no segment at all. A steady recording is now judged again without what lies below the voice."""
    name = "conversation"
    x = fixture_samples(voices["tests"][name]["file"])
    ref, ids = reference(voices, name), voices["tests"][name]["speakerIds"]
    hum = np.sqrt(2 * speech_power(x) * 10 ** (6 / 10)) * np.sin(2 * np.pi * hum_hz * np.arange(len(x)) / 16000)
    clean = segments(enrolled_api.identify(voices["tests"][name]["file"], ids))
    hummed = segments(enrolled_api.identify("conversation.wav", ids, encoding="WAV", content=wav_b64(x + hum)))
    ier_clean = identification_error_rate(ref, clean)["ier"]
    assert ier_clean < 0.15, clean
    # 60 Hz still leaks into webrtcvad's lowest band: some hum-only pause is taken for unknown speech
    assert identification_error_rate(ref, hummed)["ier"] <= ier_clean + (0.03 if hum_hz == 50 else 0.3), hummed
    assert {lab for lab, _, _ in hummed} >= set(ids)
    alone = segments(enrolled_api.identify("conversation.wav", ids, encoding="WAV", content=wav_b64(hum[:80000])))
    assert alone == []                                           # hum alone is still steady noise


def test_the_same_voices_are_matched_in_white_noise_20_db_below_the_speech(enrolled_api, voices):
    """Noise the enrollments did not have lowers the right voice's score below the accept threshold: with white
    noise at 20 dB SNR most turns came out unknown (IER 0.12-0.16 over six noise seeds, against 0.04 clean). The
    scores of a recording whose speech stands less than 30 dB above its noise floor are raised now
    (decision.noise_shift): 0-0.04."""
    name = "conversation"
    x = fixture_samples(voices["tests"][name]["file"])
    ref, ids = reference(voices, name), voices["tests"][name]["speakerIds"]
    clean = segments(enrolled_api.identify(voices["tests"][name]["file"], ids))
    noisy = segments(enrolled_api.identify("conversation.wav", ids, encoding="WAV",
                                           content=wav_b64(with_noise(x, 20.0, seed=1))))
    ier_clean = identification_error_rate(ref, clean)["ier"]
    assert ier_clean < 0.15, clean
    assert identification_error_rate(ref, noisy)["ier"] <= min(0.08, ier_clean + 0.05), noisy
    assert {lab for lab, _, _ in noisy} >= set(ids)


def test_a_duplicate_of_a_requested_voice_changes_nothing_for_it(enrolled_api, voices):
    """alice_v2, enrolled from alice's own three recordings, must not veto alice (it used to turn her unknown)."""
    ids = voices["tests"]["conversation"]["speakerIds"]
    before = {tuple(req): segments(enrolled_api.identify("conversation.wav", req)) for req in (ids, ["alice"])}
    assert overlap(before[("alice",)], "alice", 0, 60) > 5.0
    for entry in voices["speakers"]["alice"]["enroll"]:
        assert enrolled_api.enroll("alice_v2", entry["file"]).status_code == 200
    for req, answer in before.items():
        assert segments(enrolled_api.identify("conversation.wav", list(req))) == answer


@pytest.mark.parametrize("requested", [["alice"], ["alice", "bob"]])
def test_a_short_turn_between_two_turns_of_another_voice_is_not_given_to_that_voice(enrolled_api, requested):
    """bob's "Yes." (0.37 s, 0.4 s pauses) between two turns of alice: bob's or unknown, never alice's."""
    truth = json.loads((FIXTURES / "short_turn.json").read_text())["segments"]
    answer = segments(enrolled_api.identify("short_turn.flac", requested))
    yes = next(s for s in truth if s["speaker_id"] == "bob")
    assert overlap(answer, "alice", yes["start"], yes["end"]) == 0.0, answer
    for turn in (s for s in truth if s["speaker_id"] == "alice"):      # and alice is still found
        assert overlap(answer, "alice", turn["start"], turn["end"]) > 0.8 * (turn["end"] - turn["start"]), answer


def _frames_voiceprint(n: int) -> bytes:
    """A voiceprint as the previous model (mfcc20-d-3800hz-gmm-v1) stored it: raw feature frames (n, 38)."""
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((n, 38), np.float32), allow_pickle=False)
    return buffer.getvalue()


def test_voiceprints_of_the_previous_model_are_recomputed_from_the_kept_audio(tmp_path, voices, make_app):
    from mock_server import pipeline
    with running_app(ServerConfig(data_dir=tmp_path)) as app:
        api = Api(app.test_client())
        for speaker in ("alice", "bob", "carol"):
            api.enroll_fixture_speaker(speaker, voices)
        ids = voices["tests"]["conversation"]["speakerIds"]
        before = segments(api.identify("conversation.wav", ids))
    with sqlite3.connect(tmp_path / "speakers.sqlite3") as db:     # what the previous release left behind
        db.execute("UPDATE speakers SET model_version='mfcc20-d-3800hz-gmm-v1', voiceprint=?", (_frames_voiceprint(9),))
        db.execute("UPDATE enrollments SET model_version='mfcc20-d-3800hz-gmm-v1', voiceprint=?",
                   (_frames_voiceprint(300),))
    restarted = make_app(ServerConfig(data_dir=tmp_path))
    assert segments(Api(restarted.test_client()).identify("conversation.wav", ids)) == before
    with sqlite3.connect(tmp_path / "speakers.sqlite3") as db:
        versions = {row[0] for row in db.execute("SELECT model_version FROM speakers UNION "
                                                 "SELECT model_version FROM enrollments")}
    assert versions == {pipeline.MODEL_VERSION} != {"mfcc20-d-3800hz-gmm-v1"}
