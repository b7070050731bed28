"""The /_mock admin API through the Flask test client: access, reset, journal, faults, stubs, jobs and seeds."""
import dataclasses
import json
import subprocess
import sys
import time

import pytest
from conftest import Api

from mock_server.app import state_of
from mock_server.testing import wait_until

STUB = [{"speaker_id": "alice", "start": 0.0, "end": 1.5}, {"speaker_id": "bob", "start": 1.5, "end": 3.0}]


@pytest.fixture
def config(tmp_path):
    from mock_server.core.config import ServerConfig
    # One enrollment makes a speaker complete: these tests are about the admin API, not about listening.
    return ServerConfig(data_dir=tmp_path / "data", enrollments_required=1, complete_speech_seconds=6.0,
                        webhook_backoff_seconds=0.05)


@pytest.fixture
def small_api(api) -> Api:
    """alice and bob enrolled under "test-key" (two clips each: ~17 s of speech, a voiceprint that finds them)."""
    for speaker in ("alice", "bob"):
        for n in (1, 2):
            assert api.enroll(speaker, f"speakers/{speaker}/enroll{n}.wav").status_code == 200
    return api


def admin(client, method, path, body=None, **environ):
    response = client.open(f"/_mock/{path}", method=method, json=body, environ_base=environ)
    return response.status_code, response.get_json()


# --- access ---------------------------------------------------------------------------------------------------

ROUTES = [("POST", "reset"), ("GET", "requests"), ("GET", "webhooks"), ("GET", "jobs/x"), ("GET", "faults"),
          ("POST", "faults"), ("DELETE", "faults"), ("DELETE", "faults/fault-1"), ("GET", "stubs"),
          ("POST", "stubs"), ("DELETE", "stubs"), ("DELETE", "stubs/stub-1"), ("POST", "seed")]


@pytest.mark.parametrize("method,path", ROUTES)
def test_admin_routes_are_gone_with_no_admin(config, make_app, method, path):
    app = make_app(dataclasses.replace(config, admin=False), start_workers=False)
    status, body = admin(app.test_client(), method, path, {})
    assert status == 404 and body["fault"]["detail"]["code"] == "not_found"


def test_no_admin_keeps_the_public_api_and_journals_nothing(config, make_app):
    app = make_app(dataclasses.replace(config, admin=False), start_workers=False)
    api = Api(app.test_client())
    assert api.list().status_code == 200
    state = state_of(app)
    assert state.admin is None and state.service.stub_lookup is None and state.runner.before_delivery is None
    assert not [p for p in app.url_map.iter_rules() if p.rule.startswith("/_mock")]


def test_no_admin_never_imports_the_admin_package(tmp_path):
    """--no-admin leaves the plug-in out whole: a server process that served a call never imported it."""
    code = ("import sys, dataclasses; from mock_server.app import create_app; from mock_server.core.config import "
            f"ServerConfig; app = create_app(ServerConfig(data_dir={str(tmp_path)!r}, admin=False), "
            "start_workers=False); app.test_client().get('/health'); app.test_client().get('/openapi.json'); "
            "print(sorted(m for m in sys.modules if m.startswith('mock_server.admin')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("method,path", ROUTES)
@pytest.mark.parametrize("addr", ["10.0.0.5", "192.168.1.20", "2001:db8::1"])
def test_remote_clients_are_refused(client, method, path, addr):
    status, body = admin(client, method, path, {}, REMOTE_ADDR=addr)
    error = body["fault"]["detail"]
    assert status == 403 and error["code"] == "admin_forbidden" and "--admin-remote" in error["message"]


@pytest.mark.parametrize("addr", ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"])
def test_loopback_clients_are_served(client, addr):
    assert admin(client, "GET", "faults", REMOTE_ADDR=addr) == (200, {"faults": []})


def test_admin_remote_lets_others_in(config, make_app):
    app = make_app(dataclasses.replace(config, admin_remote=True), start_workers=False)
    assert admin(app.test_client(), "GET", "stubs", REMOTE_ADDR="10.0.0.5") == (200, {"stubs": []})


# --- reset ----------------------------------------------------------------------------------------------------

def test_reset_one_key_leaves_the_others(client):
    mine, theirs = Api(client, key="mine"), Api(client, key="theirs")
    for a in (mine, theirs):
        assert a.enroll("alice", "speakers/alice/enroll1.wav").status_code == 200
    admin(client, "POST", "faults", {"match": {"apikey": "mine", "path": "nowhere"}})
    admin(client, "POST", "faults", {"match": {"apikey": "theirs", "path": "nowhere"}})
    admin(client, "POST", "stubs", {"apikey": "mine", "response": {"segments": []}})
    assert admin(client, "POST", "reset", {"apikey": "mine"}) == (200, {"reset": "key"})
    assert mine.list().get_json()["enrolled_speaker_ids"] == []
    assert [s["speaker_id"] for s in theirs.list().get_json()["enrolled_speaker_ids"]] == ["alice"]
    assert [r["status"] for r in admin(client, "GET", "requests?apikey=mine")[1]["requests"]] == [200]  # the list
    assert len(admin(client, "GET", "requests?apikey=theirs")[1]["requests"]) == 2
    faults = admin(client, "GET", "faults")[1]["faults"]
    assert [f["match"]["apikey"] for f in faults] == [admin_key("theirs")]
    assert admin(client, "GET", "stubs")[1] == {"stubs": []}


def test_reset_without_a_key_forgets_everything(client):
    a, b = Api(client, key="a"), Api(client, key="b")
    for x in (a, b):
        assert x.enroll("bob", "speakers/bob/enroll1.wav").status_code == 200
    admin(client, "POST", "faults", {"match": {"path": "nowhere"}})
    admin(client, "POST", "seed", {"seed": 1})
    assert admin(client, "POST", "reset") == (200, {"reset": "all"})
    assert admin(client, "GET", "requests") == (200, {"requests": []})
    assert admin(client, "GET", "faults") == (200, {"faults": []})
    assert a.list().get_json()["enrolled_speaker_ids"] == [] and b.list().get_json()["enrolled_speaker_ids"] == []


def admin_key(key):
    from mock_server.core.auth import mask_key
    return mask_key(key)


# --- journal --------------------------------------------------------------------------------------------------

def test_journal_lists_calls_newest_first_with_the_key_masked(small_api):
    client = small_api.client
    small_api.list()
    small_api.delete("nobody")
    client.get("/audio/generic/api/v2/sync/diarization/get_enrolled_speakers")  # no key at all
    status, body = admin(client, "GET", "requests")
    assert status == 200
    entries = body["requests"]
    assert [(e["method"], e["path"].rsplit("/", 1)[1], e["status"]) for e in entries] == [
        ("GET", "get_enrolled_speakers", 401), ("POST", "delete", 404), ("GET", "get_enrolled_speakers", 200),
        *[("POST", "enroll", 200)] * 4]
    assert entries[0]["key"] is None and {e["key"] for e in entries[1:]} == {admin_key("test-key")}
    assert entries[1]["speakerIds"] == ["nobody"] and entries[3]["speakerIds"] == ["bob"]
    assert all(set(e) == {"time", "method", "path", "key", "status", "duration_ms", "request_id", "speakerIds",
                          "segments"} for e in entries)
    assert entries[0]["time"] >= entries[-1]["time"] and all(e["duration_ms"] >= 0 for e in entries)
    assert "test-key" not in json.dumps(body)
    status, only_mine = admin(client, "GET", "requests?apikey=test-key&limit=2")
    assert [e["path"] for e in only_mine["requests"]] == [e["path"] for e in entries[1:3]]


def test_journal_keeps_identify_answers(small_api):
    response = small_api.identify("alice_short.flac", ["alice", "bob"])
    assert response.status_code == 200
    entry = admin(small_api.client, "GET", "requests?limit=1")[1]["requests"][0]
    assert entry["speakerIds"] == ["alice", "bob"] and entry["segments"] == response.get_json()["segments"]
    assert entry["segments"] and entry["request_id"] is None


def test_journal_holds_the_latest_thousand(client):
    for _ in range(1005):
        client.get("/audio/generic/api/v1/sync/diarization/get_enrolled_speakers")
    client.get("/audio/generic/api/v2/sync/diarization/get_enrolled_speakers")
    entries = admin(client, "GET", "requests?limit=1000")[1]["requests"]
    assert len(entries) == 1000 and "/v2/" in entries[0]["path"]
    assert len(admin(client, "GET", "requests")[1]["requests"]) == 100


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1001", "1.5"])
def test_bad_journal_limit(client, limit):
    status, body = admin(client, "GET", f"requests?limit={limit}")
    assert status == 400 and body["fault"]["detail"]["code"] == "invalid_parameter"


def test_admin_calls_are_not_journaled(client):
    admin(client, "GET", "faults")
    client.get("/health")
    assert admin(client, "GET", "requests") == (200, {"requests": []})


# --- faults on the public API ---------------------------------------------------------------------------------

def test_a_fault_fails_the_next_matching_requests_then_stops(small_api):
    status, body = admin(small_api.client, "POST", "faults", {"match": {"path": "get_enrolled"}, "times": 2,
                                                               "status": 503, "code": "try_later"})
    assert status == 200 and body["fault"]["id"] and body["fault"]["times"] == 2
    assert small_api.delete("nobody").status_code == 404  # not matched: untouched
    for _ in range(2):
        response = small_api.list()
        assert response.status_code == 503 and response.get_json()["fault"]["detail"]["code"] == "try_later"
    assert small_api.list().status_code == 200
    assert admin(small_api.client, "GET", "faults") == (200, {"faults": []})
    statuses = [e["status"] for e in admin(small_api.client, "GET", "requests")[1]["requests"]]
    assert statuses[:4] == [200, 503, 503, 404]


def test_fault_defaults_and_message(small_api):
    admin(small_api.client, "POST", "faults", {"message": "the vendor is down"})
    response = small_api.list()
    assert response.status_code == 500
    assert response.get_json() == {"fault": {
        "fault_string": "Error in get_enrolled_speakers: the vendor is down",
        "detail": {"error_code": "com.deepaffects.InternalError", "code": "injected_fault",
                   "message": "the vendor is down"}}}
    assert small_api.list().status_code == 200


def test_fault_matches_method_and_key(small_api):
    client = small_api.client
    admin(client, "POST", "faults", {"match": {"method": "post", "apikey": "other-key"}, "status": 502})
    assert small_api.list().status_code == 200                      # GET, and another key
    assert small_api.delete("nobody").status_code == 404           # POST, but this key
    other = Api(client, key="other-key")
    assert other.list().status_code == 200                          # this key, but GET
    assert other.delete("nobody").status_code == 502


def test_a_delay_fault_slows_the_call_then_serves_it(small_api):
    admin(small_api.client, "POST", "faults", {"match": {"path": "get_enrolled"}, "delay_ms": 300})
    started = time.monotonic()
    response = small_api.list()
    assert response.status_code == 200 and time.monotonic() - started >= 0.3
    assert admin(small_api.client, "GET", "requests?limit=1")[1]["requests"][0]["duration_ms"] >= 300


def test_a_fault_without_match_waits_for_a_call_that_reaches_an_endpoint(client):
    """A path nothing routes (mistyped, or with a doubled slash), a method the endpoint does not take and the
    OPTIONS answer Flask makes itself keep their own answers and leave the fault armed for the next real call."""
    api = Api(client, key="sandbox")
    fault = admin(client, "POST", "faults", {"status": 500})[1]["fault"]
    base = "/audio/generic/api/v2/sync"
    for method, path, status in [("GET", f"{base}/diarization/nothing", 404),
                                 ("GET", f"{base}//diarization/get_enrolled_speakers", 404),
                                 ("POST", f"{base}/diarization/get_enrolled_speakers", 405),
                                 ("OPTIONS", f"{base}/diarization/get_enrolled_speakers", 200)]:
        response = client.open(f"{path}?apikey=sandbox", method=method)
        assert response.status_code == status, (method, path, response.data[:300])
        if status == 404:
            error = response.get_json()["fault"]
            assert error["detail"]["code"] == "not_found" and "faultstring" in error  # the gateway's unknown route
    assert admin(client, "GET", "faults")[1]["faults"] == [fault]
    response = api.list()
    assert response.status_code == 500 and response.get_json()["fault"]["detail"]["code"] == "injected_fault"
    assert admin(client, "GET", "faults") == (200, {"faults": []})
    assert api.list().status_code == 200


def test_faults_listed_and_deleted(client):
    first = admin(client, "POST", "faults", {"match": {"path": "a", "apikey": "k"}, "times": 3})[1]["fault"]
    second = admin(client, "POST", "faults", {"target": "webhook", "error": "connection"})[1]["fault"]
    assert first["match"] == {"path": "a", "method": None, "apikey": admin_key("k")}
    assert second["target"] == "webhook" and second["error"] == "connection" and second["status"] is None
    assert [f["id"] for f in admin(client, "GET", "faults")[1]["faults"]] == [first["id"], second["id"]]
    assert admin(client, "DELETE", f"faults/{first['id']}") == (200, {"deleted": first["id"]})
    status, body = admin(client, "DELETE", f"faults/{first['id']}")
    assert status == 404 and body["fault"]["detail"]["code"] == "not_found"
    assert admin(client, "DELETE", "faults") == (200, {"faults": []})
    assert admin(client, "GET", "faults") == (200, {"faults": []})


@pytest.mark.parametrize("body,code", [
    (None, "malformed_json"),
    ([1], "malformed_json"),
    ({"target": "db"}, "invalid_parameter"),
    ({"match": "enroll"}, "invalid_parameter"),
    ({"match": {"apikey": 5}}, "invalid_parameter"),
    ({"times": 0}, "invalid_parameter"),
    ({"times": "2"}, "invalid_parameter"),
    ({"status": 200}, "invalid_parameter"),
    ({"status": 600}, "invalid_parameter"),
    ({"delay_ms": -1}, "invalid_parameter"),
    ({"delay_ms": 600000}, "invalid_parameter"),
    ({"code": ""}, "invalid_parameter"),
    ({"target": "webhook", "error": "dns"}, "invalid_parameter"),
    ({"target": "webhook", "error": "timeout", "status": 500}, "invalid_parameter"),
])
def test_bad_fault_bodies(client, body, code):
    response = client.post("/_mock/faults", data=json.dumps(body) if body is not None else b"",
                           content_type="application/json")
    assert response.status_code == 400 and response.get_json()["fault"]["detail"]["code"] == code
    assert admin(client, "GET", "faults") == (200, {"faults": []})


# --- stubs ----------------------------------------------------------------------------------------------------

def test_a_stub_answers_sync_identify_for_the_same_set_of_ids(small_api):
    client = small_api.client
    status, body = admin(client, "POST", "stubs", {"match": {"speakerIds": ["bob", "alice"]},
                                                   "response": {"segments": STUB}})
    assert status == 200 and body["stub"]["id"] and body["stub"]["match"]["speakerIds"] == ["alice", "bob"]
    response = small_api.identify("alice_short.flac", ["alice", "bob"])
    assert response.status_code == 200 and response.get_json() == {"segments": STUB}
    real = small_api.identify("alice_short.flac", ["alice"]).get_json()["segments"]
    assert real != STUB and {s["speaker_id"] for s in real} == {"alice"}
    assert admin(client, "GET", "stubs")[1]["stubs"] == [body["stub"]]
    assert admin(client, "DELETE", f"stubs/{body['stub']['id']}") == (200, {"deleted": body["stub"]["id"]})
    assert small_api.identify("alice_short.flac", ["alice", "bob"]).get_json()["segments"] != STUB
    assert admin(client, "DELETE", f"stubs/{body['stub']['id']}")[0] == 404


def test_a_stub_for_one_key_is_not_seen_by_another(small_api):
    admin(small_api.client, "POST", "stubs", {"apikey": "other", "response": {"segments": STUB}})
    assert small_api.identify("alice_short.flac", ["alice", "bob"]).get_json()["segments"] != STUB
    other = Api(small_api.client, key="other")
    assert other.identify("alice_short.flac", ["alice", "bob"]).get_json() == {"segments": STUB}
    assert admin(small_api.client, "DELETE", "stubs") == (200, {"stubs": []})


def test_async_identify_delivers_the_stub(small_api, receiver):
    admin(small_api.client, "POST", "stubs", {"match": {"request_id": "canned"}, "response": {"segments": STUB}})
    hook = {"webhook": f"{receiver.url}/hook"}
    for request_id in ("canned", "real"):
        response = small_api.identify("alice_short.flac", ["alice", "bob"], mode="async",
                                      query={**hook, "request_id": request_id})
        assert response.status_code == 202, response.get_json()
    assert receiver.wait_for("canned", timeout=30).body == {"request_id": "canned", "response": {"segments": STUB}}
    real = receiver.wait_for("real", timeout=30).body["response"]["segments"]
    assert {s["speaker_id"] for s in real} == {"alice"}
    entries = {e["request_id"]: e for e in admin(small_api.client, "GET", "requests")[1]["requests"]}
    assert entries["canned"]["segments"] == STUB and entries["real"]["segments"] == real


def test_a_stub_answers_only_with_its_speaker_ids_or_user_not_identified(api):
    """identify answers name requested speakers or UserNotIdentified; a stub may not answer otherwise."""
    segments = [{"speaker_id": "alice", "start": 0.0, "end": 1.0}, {"speaker_id": "carol", "start": 1.0, "end": 2.0}]
    status, answer = admin(api.client, "POST", "stubs", {"match": {"speakerIds": ["bob", "alice"]},
                                                         "response": {"segments": segments}})
    assert status == 400 and answer["fault"]["detail"]["code"] == "invalid_parameter"
    message = answer["fault"]["detail"]["message"]
    assert "segments[1]" in message and "'carol'" in message
    assert "'alice', 'bob'" in message and "'UserNotIdentified'" in message
    assert admin(api.client, "GET", "stubs") == (200, {"stubs": []})
    segments[1]["speaker_id"] = "UserNotIdentified"
    assert admin(api.client, "POST", "stubs", {"match": {"speakerIds": ["bob", "alice"]},
                                               "response": {"segments": segments}})[0] == 200
    assert api.identify("alice_short.flac", ["alice", "bob"]).get_json() == {"segments": segments}


def test_a_stub_without_speaker_ids_answers_only_calls_asking_for_the_speakers_it_names(api):
    admin(api.client, "POST", "stubs", {"response": {"segments": STUB}})
    assert api.identify("alice_short.flac", ["bob", "alice", "carol"]).get_json() == {"segments": STUB}
    response = api.identify("alice_short.flac", ["alice"])  # bob not asked for: no stub; nobody is enrolled
    assert response.status_code == 400 and response.get_json()["fault"]["detail"]["code"] == "unknown_speakers"


def test_stub_times_are_stored_and_answered_with_two_decimals(api):
    given = [{"speaker_id": "alice", "start": 0.123456, "end": 1.999}, {"speaker_id": "bob", "start": 2, "end": 3.005}]
    status, body = admin(api.client, "POST", "stubs", {"match": {"speakerIds": ["alice", "bob"]},
                                                       "response": {"segments": given}})
    rounded = [{"speaker_id": "alice", "start": 0.12, "end": 2.0}, {"speaker_id": "bob", "start": 2.0, "end": 3.0}]
    assert status == 200 and body["stub"]["response"]["segments"] == rounded
    answer = api.identify("alice_short.flac", ["alice", "bob"])
    assert answer.get_json() == {"segments": rounded}
    assert b'"start":0.12,' in answer.data and b'"start":2.0,' in answer.data  # floats, as identify answers
    status, body = admin(api.client, "POST", "stubs", {"response": {"segments": [
        {"speaker_id": "alice", "start": 1.001, "end": 1.004}]}})
    assert status == 400 and "rounded to 2 decimals" in body["fault"]["detail"]["message"]


def test_a_catch_all_stub_never_overrides_a_more_specific_one(api):
    """Older exact stubs win over newer catch-alls; among stubs as specific, the newest; a key's own catch-all wins
    over one for every key."""
    dave = [{"speaker_id": "dave", "start": 0.0, "end": 1.0}]
    nobody = [{"speaker_id": "UserNotIdentified", "start": 0.0, "end": 4.0}]
    mine = [{"speaker_id": "UserNotIdentified", "start": 0.5, "end": 1.0}]
    by_request = [{"speaker_id": "dave", "start": 2.0, "end": 3.0}]
    admin(api.client, "POST", "stubs", {"match": {"speakerIds": ["dave"]}, "response": {"segments": dave}})
    admin(api.client, "POST", "stubs", {"match": {"request_id": "meeting"}, "response": {"segments": by_request}})
    admin(api.client, "POST", "stubs", {"apikey": api.key, "response": {"segments": mine}})
    admin(api.client, "POST", "stubs", {"match": {}, "response": {"segments": nobody}})
    assert api.identify("alice_short.flac", ["dave"]).get_json() == {"segments": dave}
    assert api.identify("alice_short.flac", ["alice"]).get_json() == {"segments": mine}
    assert Api(api.client, key="other").identify("alice_short.flac", ["alice"]).get_json() == {"segments": nobody}
    newer = [{"speaker_id": "dave", "start": 1.0, "end": 2.0}]
    admin(api.client, "POST", "stubs", {"match": {"speakerIds": ["dave"]}, "response": {"segments": newer}})
    assert api.identify("alice_short.flac", ["dave"]).get_json() == {"segments": newer}


@pytest.mark.parametrize("body", [
    {},
    {"response": {}},
    {"response": {"segments": "alice"}},
    {"response": {"segments": [{"speaker_id": "a", "start": "0", "end": 1}]}},
    {"response": {"segments": [{"start": 0, "end": 1}]}},
    {"match": {"speakerIds": []}, "response": {"segments": []}},
    {"match": {"speakerIds": "alice"}, "response": {"segments": []}},
    {"match": [], "response": {"segments": []}},
    {"apikey": 3, "response": {"segments": []}},
])
def test_bad_stub_bodies(client, body):
    status, answer = admin(client, "POST", "stubs", body)
    assert status == 400 and answer["fault"]["detail"]["code"] in ("missing_parameter", "invalid_parameter")


# --- jobs, webhooks and seeds ---------------------------------------------------------------------------------

def test_jobs_and_webhook_attempts_of_an_async_request(small_api, receiver):
    response = small_api.identify("alice_short.flac", ["alice"], mode="async",
                                  query={"webhook": f"{receiver.url}/h", "request_id": "job-1"})
    assert response.status_code == 202
    receiver.wait_for("job-1", timeout=30)
    # the attempt is recorded just after the receiver answered
    attempts = wait_until(lambda: admin(small_api.client, "GET", "webhooks?apikey=test-key")[1]["webhooks"],
                          timeout=10, message="no webhook attempt recorded for job-1")
    assert attempts == [{"request_id": "job-1", "url": f"{receiver.url}/h", "attempt": 1, "status": 200,
                         "error": None, "time": attempts[0]["time"]}]
    assert admin(small_api.client, "GET", "webhooks?apikey=someone-else") == (200, {"webhooks": []})
    status, body = admin(small_api.client, "GET", "jobs/job-1")
    assert status == 200 and len(body["jobs"]) == 1
    job = body["jobs"][0]
    assert job["request_id"] == "job-1" and job["status"] == "done" and job["speakerIds"] == ["alice"]
    assert job["webhook_status"] == "delivered" and job["result"]["response"]["segments"]
    status, body = admin(small_api.client, "GET", "jobs/no-such-job")
    assert status == 404 and body["fault"]["detail"]["code"] == "not_found"
    assert admin(small_api.client, "GET", "jobs/job-1?apikey=someone-else")[0] == 404


def _async_ids(api, receiver, n):
    ids = []
    for _ in range(n):
        response = api.identify("alice_short.flac", ["alice"], mode="async", query={"webhook": f"{receiver.url}/h"})
        assert response.status_code == 202
        ids.append(response.get_json()["request_id"])
    return ids


def test_seeded_request_ids_repeat(small_api, receiver):
    admin(small_api.client, "POST", "stubs", {"response": {"segments": []}})  # no need to listen here
    assert admin(small_api.client, "POST", "seed", {"seed": 1234}) == (200, {"seed": 1234})
    first = _async_ids(small_api, receiver, 2)
    admin(small_api.client, "POST", "seed", {"seed": 1234})
    assert _async_ids(small_api, receiver, 2) == first and first[0] != first[1]
    admin(small_api.client, "POST", "seed", {"seed": "text seeds work too"})
    other = _async_ids(small_api, receiver, 1)
    admin(small_api.client, "POST", "seed", {"seed": None})
    assert _async_ids(small_api, receiver, 1) != other and other[0] not in first
    for request_id in first + other:
        receiver.wait_for(request_id, timeout=30)


@pytest.mark.parametrize("body", [{}, {"seed": True}, {"seed": [1]}, {"seed": 1.5}])
def test_bad_seeds(client, body):
    status, answer = admin(client, "POST", "seed", body)
    assert status == 400 and answer["fault"]["detail"]["code"] in ("missing_parameter", "invalid_parameter")
