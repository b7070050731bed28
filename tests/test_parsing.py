"""One request-parsing layer for both APIs: hostile bodies and queries get a 4xx naming the problem, never a 500,
and the admin API's limits are exactly the ones /openapi.json publishes (hypothesis, Flask test client)."""
from __future__ import annotations

import json

import pytest
from conftest import Api, b64
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server.admin import schemas
from mock_server.app import state_of

ADMIN_POSTS = ["faults", "stubs", "seed", "reset"]
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def _post(client, path: str, raw: bytes | str):
    return client.post(path, data=raw, content_type="application/json", environ_base={"REMOTE_ADDR": "127.0.0.1"})


def _error(response) -> dict:
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data()[:300])
    return response.get_json()["fault"]["detail"]


@pytest.mark.parametrize("path", ADMIN_POSTS)
def test_json_nested_100000_deep_is_a_400_on_the_admin_api(client, path):
    error = _error(_post(client, f"/_mock/{path}", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"))
    assert error["code"] == "malformed_json" and "deep" in error["message"]


@pytest.mark.parametrize("path", ["/_mock/requests", "/_mock/webhooks"])
@pytest.mark.parametrize("limit", ["\u00b2", "\u0663", "-1", "0", "1e3", "99999999"])
def test_limit_that_is_not_a_plain_number_in_range_is_a_400(client, path, limit):
    error = _error(client.get(path, query_string={"limit": limit}, environ_base={"REMOTE_ADDR": "127.0.0.1"}))
    assert error["code"] == "invalid_parameter" and "limit" in error["message"]


@pytest.mark.parametrize("raw,shown", [("1e300", "1e+300"), ("1" + "0" * 300, "100000... (301 characters)"),
                                       ("5", "5 is out of range"), ("16000.5", "16000.5")])
def test_an_absurd_sample_rate_is_named_briefly(api, raw, shown):
    # headerless samples: with a header (a FLAC, a WAV) a rate out of range is ignored, the header wins
    body = '{"speakerId": "x", "content": "%s", "encoding": "LINEAR16", "sampleRate": %s}' % (
        b64("conversation.raw"), raw)
    response = api.client.post(api.url("sync/diarization/enroll"), data=body, content_type="application/json")
    error = _error(response)
    assert error["code"] == "invalid_parameter" and shown in error["message"] and len(error["message"]) < 200


@pytest.mark.parametrize("rate", ["\u00b2", "\u0661\u0666\u0660\u0660\u0660"])
def test_sample_rate_in_non_ascii_digits_is_a_400_on_the_public_api(api, rate):
    response = api.client.post(api.url("sync/diarization/enroll"),
                               json={"speakerId": "x", "content": b64("alice_short.flac"), "sampleRate": rate})
    error = _error(response)
    assert error["code"] == "invalid_parameter" and "sampleRate" in error["message"]


def test_misspelt_fault_fields_are_refused_with_the_allowed_ones_and_arm_nothing(client):
    error = _error(_post(client, "/_mock/faults", json.dumps({"staus": 503, "mach": {"path": "identify"}})))
    assert error["code"] == "invalid_parameter"
    assert "'mach'" in error["message"] and "'staus'" in error["message"]
    for allowed in schemas.FAULT_SCHEMA["properties"]:
        assert allowed in error["message"]
    assert client.get("/_mock/faults").get_json() == {"faults": []}
    assert state_of(client.application).admin.faults.all() == []


def test_misspelt_match_field_names_the_field_and_where(client):
    error = _error(_post(client, "/_mock/faults", json.dumps({"match": {"pth": "identify"}, "status": 503})))
    assert "'pth'" in error["message"] and "match" in error["message"] and "path" in error["message"]


@pytest.mark.parametrize("body,word", [
    ('{"response": {"segments": [{"speaker_id": "a", "start": 2, "end": 1}]}}', "before it ends"),
    ('{"response": {"segments": [{"speaker_id": "a", "start": 1, "end": 1}]}}', "before it ends"),
    ('{"response": {"segments": [{"speaker_id": "a", "start": NaN, "end": 1}]}}', "NaN"),
    ('{"response": {"segments": [{"speaker_id": "a", "start": 0, "end": Infinity}]}}', "Infinity"),
    ('{"response": {"segments": [{"speaker_id": "a", "start": 0, "end": 1e400}]}}', "1e400, a number too large"),
    ('{"response": {"segments": [{"speaker_id": "a", "start": -1, "end": 1}]}}', "start"),
    ('{"response": {"segments": [{"speaker_id": "a", "start": 0, "end": 1%s}]}}' % ("0" * 400), "digits long"),
    ('{"response": {"segments": [{"speaker_id": "a", "start": 0, "end": 1%s}]}}' % ("0" * 400), "maximum of 86400"),
    ('{"response": {"segments": [{"speaker_id": "a", "start": 0, "end": 1e308}]}}', "maximum of 86400"),
    ('{"response": {"segments": [{"speaker_id": "a", "start": 86400.001, "end": 86401}]}}', "segments[0].start"),
])
def test_stub_segments_must_be_finite_and_start_before_they_end(client, body, word):
    error = _error(_post(client, "/_mock/stubs", body))
    assert word in error["message"]
    assert client.get("/_mock/stubs").get_json() == {"stubs": []}


def test_an_integer_of_thousands_of_digits_is_named_as_too_large_not_as_invalid_json(api):
    raw = '{"speakerId": "x", "content": "%s", "sampleRate": 1%s}' % (b64("alice_short.flac"), "0" * 5000)
    error = _error(api.client.post(api.url("sync/diarization/enroll"), data=raw, content_type="application/json"))
    assert error["code"] == "malformed_json" and "a number too large" in error["message"]
    assert "not valid JSON" not in error["message"]


def test_non_finite_numbers_are_refused_by_the_public_api_too(api):
    raw = '{"speakerId": "x", "content": "%s", "sampleRate": NaN}' % b64("alice_short.flac")
    error = _error(api.client.post(api.url("sync/diarization/enroll"), data=raw, content_type="application/json"))
    assert error["code"] == "malformed_json" and "NaN, which is not JSON" in error["message"]


LONE_SURROGATE_BODIES = [
    ("/_mock/seed", '{"seed": "\\ud800"}', "seed"),
    ("/_mock/reset", '{"apikey": "k\\udfff"}', "apikey"),
    ("/_mock/faults", '{"status": 503, "match": {"apikey": "\\ud800"}}', "match.apikey"),
    ("/_mock/stubs", '{"apikey": "\\uDBFF", "response": {"segments": []}}', "apikey"),
    ("/_mock/stubs", '{"response": {"segments": [{"speaker_id": "\\ud800", "start": 0, "end": 1}]}}',
     "response.segments[0].speaker_id"),
    ("sync/diarization/delete", '{"speakerId": "\\ud800"}', "speakerId"),
    ("sync/diarization/identify", '{"speakerIds": ["alice", "\\ud800"], "content": "AAAA"}', "speakerIds[1]"),
    ("async/diarization/identify", '{"speakerIds": ["\\ud800"], "content": "AAAA"}', "speakerIds[0]"),
    ("sync/diarization/enroll", '{"speakerId": "x", "content": "AAAA", "\\ud800": 1}', "a field name"),
]


@pytest.mark.parametrize("path,raw,where", LONE_SURROGATE_BODIES)
def test_a_lone_surrogate_escape_is_a_400_naming_where_on_both_apis(api, path, raw, where):
    # "\ud800" is JSON's grammar but no character: UTF-8 (SQLite, the journal, random.seed) cannot hold it,
    # and these bodies were answered 500
    if path.startswith("/_mock"):
        response = _post(api.client, path, raw)
    else:
        response = api.client.post(api.url(path, webhook="http://127.0.0.1:9/h"), data=raw,
                                   content_type="application/json")
    error = _error(response)
    assert error["code"] == "malformed_json" and "surrogate" in error["message"] and where in error["message"]
    assert api.client.get("/_mock/faults").get_json() == {"faults": []}
    assert api.client.get("/_mock/stubs").get_json() == {"stubs": []}


def test_a_surrogate_pair_escape_is_the_character_it_encodes(api):
    response = _post(api.client, "/_mock/seed", '{"seed": "\\ud83d\\ude00 \\\\ud800"}')  # an emoji; "\\ud800" text
    assert response.status_code == 200 and response.get_json() == {"seed": "\U0001f600 \\ud800"}


def _published(client, name: str) -> dict:
    return client.get("/openapi.json").get_json()["components"]["schemas"][name]


def test_fault_limits_are_the_published_ones(client):
    published = _published(client, "FaultRequest")
    high = published["properties"]["times"]["maximum"]
    assert _post(client, "/_mock/faults", json.dumps({"times": high, "status": 503})).status_code == 200
    assert "times" in _error(_post(client, "/_mock/faults", json.dumps({"times": high + 1, "status": 503})))["message"]
    delay = published["properties"]["delay_ms"]["maximum"]
    assert "delay_ms" in _error(_post(client, "/_mock/faults", json.dumps({"delay_ms": delay + 1})))["message"]
    # api faults answer 400-599 (the published else-branch); webhook faults may stand for any status
    api_low = published["else"]["properties"]["status"]["minimum"]
    assert "status" in _error(_post(client, "/_mock/faults", json.dumps({"status": api_low - 1})))["message"]
    hook = {"target": "webhook", "status": published["properties"]["status"]["minimum"]}
    assert _post(client, "/_mock/faults", json.dumps(hook)).status_code == 200


def test_stub_times_are_held_to_the_published_maximum(client):
    published = _published(client, "StubRequest")["properties"]["response"]["properties"]["segments"]["items"]
    high = published["properties"]["end"]["maximum"]
    assert high == published["properties"]["start"]["maximum"] == 86400  # a day, documented in the description
    assert "at most a day" in published["properties"]["end"]["description"]
    last = {"speaker_id": "a", "start": high - 1, "end": high}
    answer = _post(client, "/_mock/stubs", json.dumps({"response": {"segments": [last]}}))
    assert answer.status_code == 200 and answer.get_json()["stub"]["response"]["segments"] == [last]
    for end in (high + 0.01, 1e308):
        over = {"response": {"segments": [{"speaker_id": "a", "start": 0, "end": end}]}}
        error = _error(_post(client, "/_mock/stubs", json.dumps(over)))
        assert error["code"] == "invalid_parameter" and "response.segments[0].end" in error["message"]
        assert f"maximum of {high}" in error["message"]
    assert len(client.get("/_mock/stubs").get_json()["stubs"]) == 1


def test_webhook_faults_refuse_api_only_fields(client):
    error = _error(_post(client, "/_mock/faults", json.dumps({"target": "webhook", "code": "x"})))
    assert "code" in error["message"]


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                           | st.text(max_size=20), lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@FUZZ
@given(path=st.sampled_from(ADMIN_POSTS), body=json_values)
def test_any_json_to_the_admin_api_is_answered_without_a_5xx(client, path, body):
    response = _post(client, f"/_mock/{path}", json.dumps(body))
    assert response.status_code in (200, 400), (response.status_code, response.get_data()[:300])
    body = response.get_json()
    is_error = isinstance(body.get("fault"), dict) and "detail" in body["fault"]  # created faults have no detail
    assert response.is_json and is_error == (response.status_code == 400)


FAULT_FIELDS = {"target": st.sampled_from(["api", "webhook"]), "times": st.integers(-2, 2_000_000),
                "status": st.integers(0, 700), "delay_ms": st.integers(-5, 70_000),
                "error": st.sampled_from(["connection", "timeout", "dns"]), "code": st.text(max_size=5),
                "match": st.fixed_dictionaries({}, optional={"path": st.text(max_size=5),
                                                             "request_id": st.text(max_size=5)})}


@FUZZ
@given(body=st.fixed_dictionaries({}, optional=FAULT_FIELDS))
def test_a_fault_is_armed_exactly_when_it_fits_the_published_schema(client, body):
    import jsonschema

    fits = jsonschema.Draft202012Validator(_published(client, "FaultRequest")).is_valid(body)
    response = _post(client, "/_mock/faults", json.dumps(body))
    both = body.get("target") == "webhook" and "status" in body and "error" in body
    assert response.status_code == (200 if fits and not both else 400), (body, response.get_json())
    client.delete("/_mock/faults", environ_base={"REMOTE_ADDR": "127.0.0.1"})


@pytest.fixture
def api(client) -> Api:
    return Api(client)


def test_an_empty_apikey_resets_nothing_and_says_so(api, voices):
    api.enroll_fixture_speaker("alice", voices)
    error = _error(_post(api.client, "/_mock/reset", '{"apikey": ""}'))
    assert "apikey" in error["message"]
    assert [s["speaker_id"] for s in api.list().get_json()["enrolled_speaker_ids"]] == ["alice"]


@pytest.mark.parametrize("segments,word", [
    ([{"speaker_id": "a", "start": 0, "end": 1, "extra": {"x": [1, 2]}}], "'extra'"),
    ([{"speaker_id": "a", "start": 0, "end": 2}, {"speaker_id": "b", "start": 1, "end": 3}], "overlap"),
    ([{"speaker_id": "zz\u0000", "start": 0, "end": 1}], "speaker_id"),
])
def test_stub_segments_are_what_identify_could_answer(client, segments, word):
    error = _error(_post(client, "/_mock/stubs", json.dumps({"response": {"segments": segments}})))
    assert word in error["message"]
    assert client.get("/_mock/stubs").get_json() == {"stubs": []}


@pytest.mark.parametrize("flags", [["--max-audio-seconds", "nan"], ["--complete-speech", "nan"],
                                   ["--webhook-backoff", "-1"], ["--max-body-mb", "inf"]])
def test_impossible_numbers_on_the_command_line_stop_the_server_at_once(flags):
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "mock_server", "--port", "0", "--no-grpc", *flags],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and flags[0] in done.stderr


WAV = b64("speakers/alice/enroll1.wav")
# C0, DEL and C1 (U+0080..U+009F, e.g. U+0085 NEXT LINE): Unicode's control characters, refused alike.
CONTROL_CHARACTERS = ["\x01", "\x1f", "\x7f", "\x80", "\x85", "\x9f"]
ASYNC = "/audio/generic/api/v2/async/diarization/identify"


@pytest.mark.parametrize("place,call,code", [
    ("speakerId", lambda c, x: c.post("/audio/generic/api/v2/sync/diarization/delete?apikey=k",
                                      json={"speakerId": f"ali{x}ce"}), "invalid_parameter"),
    ("speakerId", lambda c, x: c.get("/audio/generic/api/v2/sync/diarization/enroll",
                                     query_string={"apikey": "k", "speakerId": f"ali{x}ce"}), "invalid_parameter"),
    ("speakerIds", lambda c, x: c.post("/audio/generic/api/v2/sync/diarization/identify?apikey=k",
                                       json={"content": WAV, "speakerIds": [f"ali{x}ce"]}), "invalid_parameter"),
    ("request_id", lambda c, x: c.post(ASYNC, json={"content": WAV, "speakerIds": ["alice"]}, query_string={
        "apikey": "k", "webhook": "http://127.0.0.1:9/h", "request_id": f"r{x}1"}), "invalid_parameter"),
    ("webhook", lambda c, x: c.post(ASYNC, json={"content": WAV, "speakerIds": ["alice"]}, query_string={
        "apikey": "k", "webhook": f"http://127.0.0.1:9/h{x}h"}), "invalid_url"),
    ("url", lambda c, x: c.post("/audio/generic/api/v2/sync/diarization/enroll?apikey=k",
                                json={"url": f"http://127.0.0.1:9/a{x}b.wav", "speakerId": "a"}), "invalid_url"),
    ("encoding", lambda c, x: c.post("/audio/generic/api/v2/sync/diarization/enroll?apikey=k",
                                     json={"content": WAV, "speakerId": "alice", "encoding": f"WA{x}V"}),
     "unsupported_encoding"),
    ("speaker_id", lambda c, x: _post(c, "/_mock/stubs", json.dumps(
        {"response": {"segments": [{"speaker_id": f"ali{x}ce", "start": 0, "end": 1}]}})), "invalid_parameter"),
])
def test_c1_control_characters_are_refused_wherever_c0_ones_are(client, place, call, code):
    for char in CONTROL_CHARACTERS:
        error = _error(call(client, char))
        assert error["code"] == code and place in error["message"], (repr(char), error)
    assert client.get("/_mock/stubs", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_json() == {"stubs": []}
    listed = client.get("/audio/generic/api/v2/sync/diarization/get_enrolled_speakers?apikey=k&getAllSpeakers=1")
    assert listed.get_json()["enrolled_speaker_ids"] == []
