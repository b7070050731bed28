"""The vendor's limits (docs 2020): --rate-limit, the documented errors as /_mock/faults presets, and sync
identify refusing audio of 2 minutes or more.

Assertions are on the status and our stable snake_case ``code`` (``code_of``), not on the error body's outer
shape, which follows the vendor's ``{"fault": ...}`` bodies elsewhere.
"""
import base64
import io

import numpy as np
import pytest
import soundfile
from conftest import Api, fixture_samples

from mock_server.core.config import ServerConfig
from mock_server.server.cli import config_from_args
from mock_server.store.ratelimit import RateLimiter
from mock_server.testing import LiveServer, WebhookReceiver, http_json
from mock_server.testing.pytest_plugin import MockApiError, SpeakerIdServer

LIST = "sync/diarization/get_enrolled_speakers"


def code_of(body) -> str | None:
    """Our stable error code, where every error body carries it: ``fault.detail.code`` (mock_server.errors.fault_body);
    None for a body of any other shape (a success, or an error that lost the vendor's fault shape)."""
    try:
        code = body["fault"]["detail"]["code"]
    except (KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


def _app(make_app, tmp_path, **settings):
    """An app (stopped and closed when the test ends: conftest's make_app) and an Api with key "k"."""
    app = make_app(ServerConfig(data_dir=tmp_path / "data", **settings), start_workers=False)
    return app, Api(app.test_client(), key="k")


# --- --rate-limit ---------------------------------------------------------------------------------------------

def test_the_rate_limit_flag_parses_the_vendors_plan_and_is_off_by_default():
    assert config_from_args(["--rate-limit", "5/min,100/day"]).rate_limits == ((5, 60.0), (100, 86400.0))
    assert config_from_args([]).rate_limits == ()
    for bad in ("5", "0/min", "5/week", "x/min"):
        with pytest.raises(SystemExit):
            config_from_args(["--rate-limit", bad])


def test_without_the_flag_nothing_is_limited(tmp_path, make_app):
    _, api = _app(make_app, tmp_path)
    assert {api.list().status_code for _ in range(20)} == {200}


def test_the_sixth_call_in_a_minute_to_one_api_is_refused_with_retry_after(tmp_path, make_app):
    _, api = _app(make_app, tmp_path, rate_limits=((5, 60.0), (100, 86400.0)))
    assert [api.list().status_code for _ in range(5)] == [200] * 5
    refused = api.list()
    assert refused.status_code == 429 and code_of(refused.get_json()) == "rate_limit"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert Api(api.client, key="k", version="v1").list().status_code == 429  # v1 and v2 are the same API
    assert Api(api.client, key="other").list().status_code == 200            # per api key
    assert api.delete("nobody").status_code == 404                           # per API: delete is not limited yet


def test_refused_and_keyless_calls_are_not_counted_and_reset_forgets(tmp_path, make_app):
    _, api = _app(make_app, tmp_path, rate_limits=((2, 60.0),))
    keyless = api.client.get(f"/audio/generic/api/v2/{LIST}")
    assert keyless.status_code == 401 and code_of(keyless.get_json()) == "missing_api_key"
    assert [api.list().status_code for _ in range(4)] == [200, 200, 429, 429]
    assert api.client.post("/_mock/reset", json={"apikey": "other"}).status_code == 200
    assert api.list().status_code == 429  # another key's reset leaves this one's count
    assert api.client.post("/_mock/reset", json={"apikey": "k"}).status_code == 200
    assert api.list().status_code == 200


def test_windows_slide_and_the_day_limit_holds_across_minutes(tmp_path):
    limiter = RateLimiter(tmp_path / "rl.sqlite3", ((5, 60.0), (7, 86400.0)))
    for t in range(5):
        assert limiter.admit("t", "api", now=1000.0 + t) is None
    refused = limiter.admit("t", "api", now=1010.0)
    assert (refused.limit, refused.window, refused.retry_after) == (5, "minute", 50)
    assert limiter.admit("t", "api", now=1060.5) is None  # the call at 1000 left the minute
    assert limiter.admit("t", "api", now=1200.0) is None  # 7 calls today
    refused = limiter.admit("t", "api", now=1300.0)  # the minute is free, the day is not
    assert refused.window == "day" and refused.retry_after == 86400 - 300
    assert limiter.admit("t", "api", now=1000.0 + 86400.5) is None  # a day after the first call


def test_limiters_on_one_file_share_the_count(tmp_path):
    # What the workers of --processes N do: each has its own RateLimiter on the data dir's file.
    first, second = (RateLimiter(tmp_path / "rl.sqlite3", ((3, 60.0),)) for _ in range(2))
    assert first.admit("t", "api", now=1.0) is None
    assert second.admit("t", "api", now=2.0) is None
    assert first.admit("t", "api", now=3.0) is None
    assert second.admit("t", "api", now=4.0) is not None


@pytest.mark.live
def test_the_limit_holds_for_a_server_with_several_processes(tmp_path):
    with LiveServer("--rate-limit", "3/min", "--processes", "2", data_dir=tmp_path / "live") as live:
        answers = [_get(f"{live.url}/audio/generic/api/v2/{LIST}?apikey=k") for _ in range(10)]
    statuses = [status for status, _ in answers]
    assert statuses == [200] * 3 + [429] * 7, {pid for _, pid in answers}


def _get(url: str) -> tuple[int, str]:
    """(status, the X-Served-By pid) of one GET on a new connection."""
    headers: dict = {}
    status, _ = http_json("GET", url, timeout=30, response_headers=headers)
    return status, headers["X-Served-By"]


# --- /_mock/faults presets ------------------------------------------------------------------------------------

@pytest.mark.parametrize("preset,status,code", [
    ("rate_limit", 429, "rate_limit"), ("quota_exceeded", 402, "quota_exceeded"),
    ("invalid_api_key", 401, "invalid_api_key"), ("params_invalid", 400, "invalid_parameter"),
    ("unknown_route", 404, "not_found"), ("api_error", 500, "internal_error"),
])
def test_presets_answer_the_vendors_documented_errors(tmp_path, make_app, preset, status, code):
    _, api = _app(make_app, tmp_path)
    armed = api.client.post("/_mock/faults", json={"preset": preset, "times": 2, "match": {"path": "get_enrolled"}})
    assert armed.status_code == 200
    fault = armed.get_json()["fault"]
    assert (fault["preset"], fault["status"], fault["code"]) == (preset, status, code)
    gateway = preset in ("rate_limit", "quota_exceeded", "invalid_api_key", "unknown_route")
    for _ in range(2):
        answer = api.list()
        assert answer.status_code == status and code_of(answer.get_json()) == code
        fault = answer.get_json()["fault"]
        # the vendor's gateway answers keys, limits, quota and routes; its service the rest (vendor-docs-2020.md)
        assert ("faultstring" in fault and "errorcode" in fault["detail"]) is gateway
        assert ("fault_string" in fault and "error_code" in fault["detail"]) is not gateway
    if preset == "rate_limit":
        assert answer.headers["Retry-After"] == "60"
    assert api.list().status_code == 200  # used up


@pytest.mark.live
def test_quota_exhaustion_over_real_http_armed_through_the_plugin(tmp_path):
    with LiveServer(data_dir=tmp_path / "live") as live:
        server = SpeakerIdServer(live.url, "k")
        assert server.fault(preset="quota_exceeded", path="get_enrolled")["status"] == 402
        with pytest.raises(MockApiError) as refused:
            server.list()
        assert refused.value.status == 402 and code_of(refused.value.body) == "quota_exceeded"
        # Another key, and this key's next call, are untouched.
        assert http_json("GET", f"{live.url}/audio/generic/api/v1/{LIST}?apikey=other")[0] == 200
        assert server.list() == []


@pytest.mark.parametrize("body", [
    {"preset": "no_such_preset"},
    {"preset": {"name": "rate_limit"}},
    {"preset": None},
    {"preset": "rate_limit", "status": 503},
    {"preset": "rate_limit", "code": "mine"},
    {"preset": "rate_limit", "target": "webhook"},
])
def test_bad_preset_faults(tmp_path, make_app, body):
    _, api = _app(make_app, tmp_path)
    answer = api.client.post("/_mock/faults", json=body)
    assert answer.status_code == 400 and code_of(answer.get_json()) == "invalid_parameter"


# --- the sync limit -------------------------------------------------------------------------------------------

def _clip(seconds: float) -> str:
    """base64 WAV of ``seconds`` at 16 kHz: alice_short's speech, then silence (quick to listen to)."""
    speech = fixture_samples("alice_short.flac")
    samples = np.zeros(int(round(seconds * 16000)), dtype=np.float32)
    samples[:len(speech)] = speech[:len(samples)]
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, 16000, format="WAV", subtype="PCM_16")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _identify(api: Api, content: str, mode: str = "sync", **query):
    return api.client.post(api.url(f"{mode}/diarization/identify", **query),
                           json={"content": content, "encoding": "WAV", "speakerIds": ["alice"]})


@pytest.fixture
def alice_api(tmp_path, make_app):
    app = make_app(ServerConfig(data_dir=tmp_path / "data"))
    api = Api(app.test_client(), key="k")
    for n in (1, 2):  # ~16 s of speech: complete, and a voiceprint that finds her in alice_short
        assert api.enroll("alice", f"speakers/alice/enroll{n}.wav").status_code == 200
    return api


@pytest.mark.parametrize("seconds", [120.0, 125.0, 600.0])
def test_sync_identify_of_2_minutes_or_more_is_a_400_saying_to_use_async(alice_api, seconds):
    answer = _identify(alice_api, _clip(seconds))
    assert answer.status_code == 400 and code_of(answer.get_json()) == "audio_too_long_for_sync"
    assert "async/diarization/identify" in answer.get_data(as_text=True)


def test_sync_identify_under_2_minutes_is_served(alice_api):
    answer = _identify(alice_api, _clip(119.0))
    assert answer.status_code == 200 and {s["speaker_id"] for s in answer.get_json()["segments"]} == {"alice"}


@pytest.mark.parametrize("profile", ["2020", "2019"])
def test_sync_enroll_of_2_minutes_or_more_is_a_400_asking_for_a_shorter_recording(tmp_path, make_app, profile):
    """The docs' limit is for every sync call, and enrollment has no async variant: a 400 that says so, in both
    profiles, and nothing is stored; just under the limit is served."""
    app = make_app(ServerConfig(data_dir=tmp_path / "data", api_profile=profile))
    api = Api(app.test_client(), key="k")
    too_long = api.client.post(api.url("sync/diarization/enroll"),
                               json={"content": _clip(120.0), "encoding": "WAV", "speakerId": "alice"})
    assert too_long.status_code == 400 and code_of(too_long.get_json()) == "audio_too_long_for_sync"
    text = too_long.get_data(as_text=True)
    assert "sync enroll takes audio under 120 s" in text and "shorter recording" in text
    assert "async/diarization/identify" not in text
    listed = api.list()
    assert listed.status_code == 200 and "alice" not in listed.get_data(as_text=True)
    assert api.enroll("alice", "speakers/alice/enroll1.wav").status_code == 200


def test_async_identify_takes_the_same_audio(alice_api):
    with WebhookReceiver() as receiver:
        answer = _identify(alice_api, _clip(125.0), mode="async", webhook=f"{receiver.url}/h", request_id="long")
        assert answer.status_code in (200, 202), answer.get_json()
        segments = receiver.wait_for("long", timeout=60).body["response"]["segments"]
    assert {s["speaker_id"] for s in segments} == {"alice"} and segments[-1]["end"] <= 125.0


def test_audio_over_max_audio_seconds_stays_a_413_in_sync_too(tmp_path, make_app):
    _, api = _app(make_app, tmp_path, max_audio_seconds=60.0, enrollments_required=1, complete_speech_seconds=6.0)
    assert api.enroll("alice", "speakers/alice/enroll1.wav").status_code == 200
    answer = _identify(api, _clip(90.0))
    assert answer.status_code == 413 and code_of(answer.get_json()) == "audio_too_long"
