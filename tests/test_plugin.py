"""The pytest plugin, as a user's project sees it: a test file run by pytest in a subprocess (pytester)."""
from importlib.metadata import entry_points

import pytest
from conftest import FIXTURES

from mock_server.testing import pytest_plugin

pytest_plugins = ["pytester"]

USER_TESTS = '''
import pytest
from mock_server.testing.pytest_plugin import MockApiError, clip_path, voice_files

STUB = [{"speaker_id": "me", "start": 0.0, "end": 2.0}]


def test_enrolled_speakers_and_sync_identify(speaker_id_server, enrolled_speakers):
    assert enrolled_speakers == ["alice", "bob", "carol", "dave"]
    assert {s["speaker_id"]: s["enrollment_complete"] for s in speaker_id_server.list()} == dict.fromkeys(
        enrolled_speakers, True)
    answer = speaker_id_server.identify(clip_path("alice_short.flac"), ["alice", "bob"])
    assert {s["speaker_id"] for s in answer["segments"]} == {"alice"}
    entry = speaker_id_server.requests(limit=1)[0]
    assert entry["path"].endswith("/sync/diarization/identify") and entry["segments"] == answer["segments"]
    assert speaker_id_server.api_key not in str(speaker_id_server.requests())


def test_every_test_has_its_own_key(speaker_id_server):
    assert speaker_id_server.list() == []
    assert speaker_id_server.requests() == [speaker_id_server.requests()[0]]  # only the list call above


def test_async_stub_fault_and_bytes(speaker_id_server, webhook_receiver):
    data = voice_files("alice")[0].read_bytes()
    answer = speaker_id_server.enroll("me", data, encoding="WAV")
    assert answer["message"] == "Success" and answer["enrollment_complete"] is False
    assert speaker_id_server.enrollment("me") == {k: v for k, v in answer.items() if k != "message"}
    with pytest.raises(MockApiError) as error:
        speaker_id_server.identify(data, ["me"])
    assert error.value.status == 400 and error.value.code == "enrollment_incomplete"
    assert error.value.fault_string.startswith("Error in identify: ")
    assert error.value.vendor_code == "com.deepaffects.BadRequest"
    with pytest.raises(MockApiError) as error:
        speaker_id_server.enroll("me", clip_path("alice_short.flac"))
    assert error.value.code == "insufficient_speech" and "Insufficent speech" in error.value.fault_string
    speaker_id_server.stub(STUB, speaker_ids=["me"])
    assert speaker_id_server.identify(data, ["me"]) == {"segments": STUB}
    speaker_id_server.fault(path="identify", status=503, code="vendor_down")
    with pytest.raises(MockApiError) as error:
        speaker_id_server.identify(data, ["me"])
    assert (error.value.status, error.value.code) == (503, "vendor_down")
    speaker_id_server.fault(target="webhook", status=500)
    assert speaker_id_server.enroll("me", data, encoding="WAV")["enrollment_complete"] is True
    ack = speaker_id_server.identify(data, ["me"], webhook=webhook_receiver, request_id="r1")
    assert ack["request_id"] == "r1"
    delivery = webhook_receiver.wait_for("r1", timeout=30)
    assert delivery.path == "/webhook" and delivery.body["response"] == {"segments": STUB}
    assert speaker_id_server.jobs("r1")[0]["webhook_status"] in ("pending", "delivered")
    attempts = [(w["attempt"], w["status"]) for w in speaker_id_server.webhooks()]
    assert (1, 500) in attempts
    speaker_id_server.delete("me")
    assert speaker_id_server.list(all_speakers=True) == []
    assert speaker_id_server.url_for("/health") == speaker_id_server.url + "/health"
'''


def test_the_plugin_is_registered_by_the_package():
    assert "mock_server.testing.pytest_plugin" in {e.value for e in entry_points(group="pytest11")}


@pytest.mark.live
def test_a_user_project_gets_a_live_mock_from_the_fixtures(pytester):
    pytester.makepyfile(test_user=USER_TESTS, test_failing='''
def test_unknown_speaker(speaker_id_server):
    speaker_id_server.identify(b"not audio", ["nobody"])
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=300)
    result.assert_outcomes(passed=3, failed=1)  # one session: the failing test shares the server, not the key
    result.stdout.fnmatch_lines(["*MockApiError: HTTP 400 unknown_speakers*"])


def test_bundled_voices_are_the_fixture_voices():
    bundled = {p.relative_to(pytest_plugin.VOICES_DIR): p.read_bytes()
               for p in pytest_plugin.VOICES_DIR.rglob("*.wav")}
    fixtures = {p.relative_to(FIXTURES / "speakers"): p.read_bytes() for p in (FIXTURES / "speakers").rglob("*.wav")}
    assert bundled.keys() == fixtures.keys() and len(bundled) == 12
    assert all(bundled[k] == fixtures[k] for k in bundled)
    for clip in pytest_plugin.CLIPS_DIR.iterdir():
        assert clip.read_bytes() == (FIXTURES / clip.name).read_bytes()


PARALLEL_TESTS = '''
import pytest
from mock_server.testing.pytest_plugin import voice_files


@pytest.mark.parametrize("n", range(6))
def test_my_speakers_are_mine_while_others_come_and_go(speaker_id_server, n):
    voice = voice_files("carol")[n % 3].read_bytes()
    speaker_id_server.enroll(f"me_{n}", voice)
    for _ in range(5):  # meanwhile other workers' tests enroll and reset their own keys
        assert [s["speaker_id"] for s in speaker_id_server.list(all_speakers=True)] == [f"me_{n}"]
        speaker_id_server.enroll(f"me_{n}", voice)
'''


@pytest.mark.live
def test_parallel_workers_share_one_server_without_seeing_each_other(pytester, tmp_path, monkeypatch):
    """pytest-xdist workers pointed at one running mock (SPEAKER_ID_MOCK_URL): keys keep them apart."""
    from mock_server.testing import LiveServer
    pytester.makepyfile(test_parallel=PARALLEL_TESTS)
    with LiveServer(data_dir=tmp_path / "shared") as server:
        monkeypatch.setenv("SPEAKER_ID_MOCK_URL", server.url)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-n", "2", timeout=300)
        result.assert_outcomes(passed=6)
        log = server.log()
    # every test's enrollments reached this one server (each test's key was reset after it, journal included)
    assert log.count("/sync/diarization/enroll -> 200") == 6 * 6


PROFILE_TESTS = '''
from mock_server.testing.pytest_plugin import voice_files


def test_the_profile_in_force(speaker_id_server):
    answer = speaker_id_server.enroll("jane.doe", voice_files("carol")[0].read_bytes())
    print("ANSWER", sorted(answer.items()))
    assert answer["message"] == "Success"   # 2019: any id, "Success" until --enrollments-required
'''


@pytest.mark.live
@pytest.mark.parametrize("ini,passes", [("speaker_id_mock_profile = 2019", True), ("", False)])
def test_the_speaker_id_mock_profile_ini_option_chooses_the_vendor_docs(pytester, ini, passes):
    """speaker_id_mock_profile = 2019 starts the server in the earlier profile (an id with a "." is enrolled with
    "Success"); without it the 2020 rules refuse that id (the plugin's MockApiError fails the same test)."""
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_profile=PROFILE_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-s", timeout=300)
    if passes:
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["*ANSWER*'message', 'Success'*"])
    else:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*MockApiError: HTTP 400 invalid_parameter*"])
