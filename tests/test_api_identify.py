"""Sync identification through HTTP: who speaks when, in every supported encoding."""
import pytest
from conftest import ENROLLED
from timeline import agreement, check_shape

from mock_server.core.profiles import UNKNOWN_SPEAKER as UNKNOWN

CONVERSATIONS = ["conversation", "conversation_raw", "conversation_stereo", "conversation_8k",
                 "conversation_mp3", "conversation_ogg"]


@pytest.mark.parametrize("name", CONVERSATIONS)
def test_conversation_is_identified_in_every_encoding(enrolled_api, voices, name):
    test = voices["tests"][name]
    response = enrolled_api.identify(test["file"], test["speakerIds"], encoding=test["encoding"],
                                     sampleRate=test["sampleRate"])
    assert response.status_code == 200, response.get_json()
    segments = response.get_json()["segments"]
    check_shape(segments, set(test["speakerIds"]) | {UNKNOWN})
    assert agreement(test["segments"], segments, test["duration"]) >= 0.8


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_stranger_is_unknown_and_enrolled_voices_are_named(enrolled_api, voices, version):
    enrolled_api.version = version
    test = voices["tests"]["stranger_conversation"]
    response = enrolled_api.identify(test["file"], test["speakerIds"], encoding="FLAC")
    segments = response.get_json()["segments"]
    check_shape(segments, set(test["speakerIds"]) | {UNKNOWN})
    assert agreement(test["segments"], segments, test["duration"]) >= 0.75
    assert UNKNOWN in {s["speaker_id"] for s in segments}


def test_a_voice_is_found_in_another_recording_and_a_different_voice_is_not(enrolled_api, voices):
    test = voices["tests"]["alice_short"]
    named = enrolled_api.identify(test["file"], ["alice", "bob"], encoding="FLAC").get_json()["segments"]
    assert named and {s["speaker_id"] for s in named} == {"alice"}
    others = enrolled_api.identify(test["file"], ["bob", "dave"], encoding="FLAC").get_json()["segments"]
    assert others and {s["speaker_id"] for s in others} == {UNKNOWN}


def test_silence_gives_no_segments(enrolled_api):
    response = enrolled_api.identify("silence.wav", list(ENROLLED))
    assert response.status_code == 200 and response.get_json() == {"segments": []}


def test_a_short_pause_inside_a_turn_does_not_split_it(enrolled_api, voices):
    test = voices["tests"]["conversation"]
    segments = enrolled_api.identify(test["file"], test["speakerIds"]).get_json()["segments"]
    for pause in test["pauses"]:
        covering = [s for s in segments if s["start"] < pause["start"] and s["end"] > pause["end"]]
        assert covering, f"the {pause} pause split its turn: {segments}"


def test_container_header_wins_over_a_disagreeing_sample_rate(enrolled_api, voices):
    test = voices["tests"]["conversation_8k"]
    honest = enrolled_api.identify(test["file"], test["speakerIds"], encoding="FLAC", sampleRate=8000)
    lying = enrolled_api.identify(test["file"], test["speakerIds"], encoding="FLAC", sampleRate=44100)
    assert honest.status_code == lying.status_code == 200
    assert honest.get_json() == lying.get_json()


def test_answers_are_deterministic(enrolled_api, voices):
    test = voices["tests"]["stranger_conversation"]
    first = enrolled_api.identify(test["file"], test["speakerIds"], encoding="FLAC").data
    second = enrolled_api.identify(test["file"], test["speakerIds"], encoding="FLAC").data
    assert first == second


def test_only_requested_speakers_are_named(enrolled_api, voices):
    test = voices["tests"]["conversation"]
    segments = enrolled_api.identify(test["file"], ["alice"]).get_json()["segments"]
    assert {s["speaker_id"] for s in segments} == {"alice", UNKNOWN}


@pytest.mark.parametrize("body,code", [
    ({"speakerIds": []}, "invalid_parameter"),
    ({"speakerIds": "alice"}, "invalid_parameter"),
    ({"speakerIds": ["alice", 3]}, "invalid_parameter"),
    ({"speakerIds": None}, "missing_parameter"),
    ({"speakerIds": ["alice", "zed", "yan"]}, "unknown_speakers"),
])
def test_bad_speaker_ids_are_refused(enrolled_api, body, code):
    response = enrolled_api.client.post(enrolled_api.url("sync/diarization/identify"),
                                        json={"content": "AAAA", "encoding": "WAV", **body})
    assert response.status_code == 400
    error = response.get_json()["fault"]["detail"]
    assert error["code"] == code
    if code == "unknown_speakers":
        assert "'zed'" in error["message"] and "'yan'" in error["message"] and "'alice'" not in error["message"]


@pytest.mark.parametrize("field", ["speaker_ids", "speakerIDs", "SpeakerIds", "speakerId"])
def test_a_misspelt_speaker_ids_field_is_named(enrolled_api, field):
    response = enrolled_api.client.post(enrolled_api.url("sync/diarization/identify"),
                                        json={"content": "AAAA", "encoding": "WAV", field: ["alice"]})
    error = response.get_json()["fault"]["detail"]
    assert error["code"] == "missing_parameter"
    assert f"The body has {field!r}, which is not read: the field is spelt 'speakerIds'." in error["message"]


@pytest.mark.parametrize("body", ["[" * 100000, '{"a":' * 50000])
def test_deeply_nested_json_without_a_webhook_is_still_the_missing_webhook(enrolled_api, body):
    # looking for a 'webhook' in the body must not meet the parser's RecursionError (a 500)
    response = enrolled_api.client.post(enrolled_api.url("async/diarization/identify"), data=body,
                                        content_type="application/json")
    assert response.status_code == 400 and response.get_json()["fault"]["detail"]["code"] == "missing_webhook"


def test_a_webhook_in_the_body_is_named_when_the_url_has_none(enrolled_api):
    response = enrolled_api.client.post(enrolled_api.url("async/diarization/identify"),
                                        json={"content": "AAAA", "speakerIds": ["alice"],
                                              "webhook": "http://127.0.0.1:9/hook"})
    error = response.get_json()["fault"]["detail"]
    assert error["code"] == "missing_webhook" and "a 'webhook' in the JSON body is not read" in error["message"]


def test_incomplete_speakers_are_refused_by_name(enrolled_api, voices):
    enrolled_api.enroll("frank", voices["stranger"]["files"][0]["file"])
    response = enrolled_api.identify("alice_short.flac", ["alice", "frank"], encoding="FLAC")
    assert response.status_code == 400
    error = response.get_json()["fault"]["detail"]
    assert error["code"] == "enrollment_incomplete" and "'frank'" in error["message"]


def test_a_stranger_is_unknown_even_when_the_key_has_one_speaker(api, voices):
    api.enroll_fixture_speaker("alice", voices)
    own = api.identify("alice_short.flac", ["alice"], encoding="FLAC").get_json()["segments"]
    assert own and {s["speaker_id"] for s in own} == {"alice"}
    for entry in voices["stranger"]["files"]:
        stranger = api.identify(entry["file"], ["alice"]).get_json()["segments"]
        assert stranger and {s["speaker_id"] for s in stranger} == {UNKNOWN}, entry["file"]


def _pcm(samples) -> str:
    """LINEAR16 request content for float samples."""
    import base64

    from mock_server.audio import encode_pcm16
    return base64.b64encode(encode_pcm16(samples)).decode()


def test_a_voice_that_matches_no_requested_voiceprint_stays_unknown_through_the_api(tmp_path, voices, make_app):
    """End to end through the store: "bob" is enrolled three times from 0.7 s of carol's speech (2.1 s in
    all, a thin voiceprint, as when enrollments are cut from a meeting), so his own voice matches nothing.
    Asked about alice and bob, on alice then bob, bob's real voice is nobody asked about: it stays unknown
    (the leftover-voice step that once named it bob was removed: it helped on neither half of a speaker split
    of the dev set, and it named strangers after absent speakers)."""
    import numpy as np
    from conftest import Api, fixture_speech

    from mock_server.core.config import ServerConfig

    # enrollments this thin exist only under the earlier docs (the 2020 ones refuse < 6 s of speech)
    app = make_app(ServerConfig(data_dir=tmp_path / "data", api_profile="2019"), start_workers=False)
    api = Api(app.test_client())
    for name in ("alice", "dave"):
        api.enroll_fixture_speaker(name, voices)
    carol = fixture_speech("speakers/carol/enroll2.wav")
    for n in range(3):
        cut = carol[int((1.0 + 2 * n) * 16000):int((1.7 + 2 * n) * 16000)]
        response = api.client.post(api.url("sync/diarization/enroll"), json={
            "content": _pcm(cut), "encoding": "LINEAR16", "sampleRate": 16000, "speakerId": "bob"})
        assert response.status_code == 200, response.get_json()
    alice, bob = fixture_speech("speakers/alice/enroll1.wav"), fixture_speech("speakers/bob/enroll1.wav")
    clip = np.concatenate([alice, np.zeros(8000, dtype=np.float32), bob])
    response = api.client.post(api.url("sync/diarization/identify"), json={
        "content": _pcm(clip), "encoding": "LINEAR16", "sampleRate": 16000, "speakerIds": ["alice", "bob"]})
    assert response.status_code == 200, response.get_json()
    segments = response.get_json()["segments"]
    check_shape(segments, {"alice", "bob", UNKNOWN})
    start = (len(alice) + 8000) / 16000

    def share(label, lo, hi):
        return sum(max(0.0, min(s["end"], hi) - max(s["start"], lo)) for s in segments
                   if s["speaker_id"] == label) / (hi - lo)
    assert share("alice", 0.0, len(alice) / 16000) > 0.8, segments
    assert share(UNKNOWN, start, start + len(bob) / 16000) > 0.8, segments
