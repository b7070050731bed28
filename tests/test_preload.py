"""--preload DIR: speakers enrolled before the server answers, skipped on restart, bad files reported."""
import os
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


def test_with_api_keys_the_voices_are_preloaded_under_the_first_of_them(tmp_path, voices_dir):
    """scripts/serve --api-key mykey runs `--preload fixtures/speakers --api-key mykey`: the voices must be usable."""
    shutil.rmtree(voices_dir / "bob")
    (tmp_path / "d").mkdir()
    with LiveServer("--preload", str(voices_dir), "--api-key", "mykey", "--api-key", "other",
                    data_dir=tmp_path / "d") as s:
        assert _speakers(s, key="mykey") == {"alice": True}
        assert _speakers(s, key="other") == {}
        status, body = http_json("GET", f"{s.url}/audio/generic/api/v2/sync/diarization/get_enrolled_speakers"
                                        "?apikey=sandbox", timeout=30)
        assert status == 401 and body["fault"]["detail"]["code"] == "invalid_api_key"
        assert "mykey" not in s.log()


def _start(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "mock_server", "--port", "0", "--data-dir", str(tmp_path / "d"),
                           *args], capture_output=True, text=True, timeout=60)


def test_a_preload_key_the_server_would_refuse_stops_it_with_a_message(tmp_path, voices_dir):
    result = _start(tmp_path, "--preload", str(voices_dir), "--api-key", "mykey", "--preload-api-key", "team-key")
    assert result.returncode == 2
    assert "--preload-api-key is not one of the --api-key keys" in result.stderr
    assert "team-key" not in result.stderr and "mykey" not in result.stderr
    assert not (tmp_path / "d" / "speakers.sqlite3").exists()  # refused before anything was enrolled


@pytest.mark.parametrize("flag", ["--api-key", "--preload-api-key"])
def test_a_key_with_surrounding_whitespace_on_the_command_line_stops_the_server(tmp_path, flag):
    result = _start(tmp_path, flag, "mykey ")
    assert result.returncode == 2 and "whitespace" in result.stderr


def test_help_names_every_audio_file_preload_reads():
    from mock_server.server.preload import AUDIO_SUFFIXES
    result = subprocess.run([sys.executable, "-m", "mock_server", "--help"], capture_output=True, text=True,
                            timeout=60, env=dict(os.environ, COLUMNS="400"))
    assert result.returncode == 0
    listed = "{" + ",".join(s.lstrip(".") for s in AUDIO_SUFFIXES) + "}"
    assert f"DIR/<speakerId>/*.{listed}" in result.stdout
