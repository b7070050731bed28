"""--preload DIR: speakers enrolled before the server answers, skipped on restart, bad files reported."""
import shutil
import subprocess
import sys

import pytest
from conftest import FIXTURES

from mock_server.testing import LiveServer, http_json

pytestmark = pytest.mark.live  # every test here talks to a mock server process


def _speakers(server, key="sandbox"):
    status, body = http_json("GET", f"{server.url}/audio/generic/api/v2/sync/diarization/get_enrolled_speakers"
                                    f"?apikey={key}&getAllSpeakers=True", timeout=30)
    assert status == 200, body
    return {s["speaker_id"]: s["enrollment_complete"] for s in body["enrolled_speaker_ids"]}


@pytest.fixture
def voices_dir(tmp_path):
    """alice (3 clips), bob (1 clip, plus a broken file and a text file) and an empty folder."""
    root = tmp_path / "voices"
    shutil.copytree(FIXTURES / "speakers" / "alice", root / "alice")
    (root / "bob").mkdir()
    shutil.copy(FIXTURES / "speakers" / "bob" / "enroll1.wav", root / "bob" / "enroll1.wav")
    (root / "bob" / "broken.wav").write_bytes(b"RIFF not really a wav")
    (root / "bob" / "notes.txt").write_text("not audio, ignored")
    (root / "empty").mkdir()
    return root


def test_preloaded_speakers_are_there_at_start_and_skipped_on_restart(tmp_path, voices_dir):
    data = tmp_path / "data"
    data.mkdir()
    with LiveServer("--preload", str(voices_dir), data_dir=data) as server:
        assert _speakers(server) == {"alice": True, "bob": False}
        assert _speakers(server, key="another-key") == {}
        log = server.log()
    assert "could not enroll" in log and "broken.wav" in log
    assert "enrolled alice, bob" in log and "1 file(s) failed" in log
    assert "'bob' is not complete after 1 enrollment(s)" in log
    with LiveServer("--preload", str(voices_dir), data_dir=data) as server:
        assert _speakers(server) == {"alice": True, "bob": False}
        log = server.log().split("speaker-id-mock listening")[-2]  # this run's part of the shared log
    # alice is complete: not read again; bob was left incomplete, so he is enrolled afresh (not doubled).
    assert "enrolled bob; already there alice" in log


def test_preload_under_another_key(tmp_path, voices_dir):
    shutil.rmtree(voices_dir / "bob")
    (tmp_path / "d").mkdir()
    with LiveServer("--preload", str(voices_dir), "--preload-api-key", "team-key", data_dir=tmp_path / "d") as s:
        assert _speakers(s, key="team-key") == {"alice": True} and _speakers(s) == {}
        assert "team-key" not in s.log()


def test_a_missing_preload_directory_stops_the_server_with_a_message(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mock_server", "--port", "0", "--data-dir", str(tmp_path / "d"),
                             "--preload", str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--preload" in result.stderr and "nowhere" in result.stderr and "not a directory" in result.stderr
