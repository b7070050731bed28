"""The README's "A curl session", replayed call by call against a live server: every JSON answer it shows is what
the server answers now (only the uptime and the machine-dependent parts of a url may differ). When the listening
changes, this fails until the README shows the new answers (``python tests/test_readme_session.py`` prints them)."""
from __future__ import annotations

import base64
import json
import re
import sys
from pathlib import Path

import pytest

from mock_server.testing import LiveServer, WebhookReceiver, http_json

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
API = "/audio/generic/api/{version}/{mode}/diarization/{op}?apikey=my-key"


def _b64(name: str) -> str:
    return base64.b64encode((FIXTURES / name).read_bytes()).decode()


def shown_answers() -> list[object]:
    """The JSON answers the README's curl session shows, in order (its lines that start with "{")."""
    readme = (ROOT / "README.md").read_text()
    session = readme.split("### A curl session", 1)[1].split("```console", 1)[1].split("```", 1)[0]
    return [json.loads(line) for line in session.splitlines() if line.startswith("{")]


def session_answers(tmp_path: Path) -> list[object]:
    """Run the README's session (same calls, same order, a local receiver for its webhook); the JSON answers."""
    answers: list[object] = []
    receiver = WebhookReceiver()
    with LiveServer(data_dir=tmp_path / "readme-data") as server:
        def call(method: str, op: str, body=None, *, version="v2", mode="sync", query="", expect=200):
            status, answer = http_json(method, server.url + API.format(version=version, mode=mode, op=op) + query,
                                       body)
            assert status == expect, answer
            return answer

        answers.append(http_json("GET", server.url + "/health")[1])
        for speaker in ("alice", "bob", "carol"):
            for n in (1, 2, 3):
                answer = call("POST", "enroll", {"content": _b64(f"speakers/{speaker}/enroll{n}.wav"),
                                                 "encoding": "WAV", "sampleRate": 16000, "languageCode": "en-US",
                                                 "speakerId": speaker})
                if speaker == "alice":
                    answers.append(answer)
        answers.append(call("GET", "enroll", query="&speakerId=alice"))
        answers.append(call("GET", "get_enrolled_speakers", version="v1"))
        data = {"content": _b64("conversation_8k.flac"), "encoding": "FLAC", "sampleRate": 8000,
                "languageCode": "en-US", "speakerIds": ["alice", "bob", "carol"]}
        answers.append(call("POST", "identify", data))
        answers.append(call("POST", "identify", {**data, "speakerIds": ["alice", "bob"]}))
        answers.append(call("POST", "identify", data, mode="async", expect=202,
                            query=f"&webhook={receiver.url}/hook&request_id=42"))
        answers.append(receiver.wait_for("42", timeout=60).body)
        answers.append(call("POST", "delete", {"speakerId": "carol"}))
        answers.append(call("POST", "identify", data, expect=400))
        answers.append(call("POST", "enroll", {"content": _b64("alice_short.flac"), "speakerId": "dave"}, expect=400))
        answers.append(call("POST", "enroll", {"content": "bm90IGF1ZGlv", "speakerId": "jane.doe+1"}, expect=400))
        answers.append(call("POST", "identify", data, mode="async", expect=400))
        no_key = "/audio/generic/api/v1/sync/diarization/get_enrolled_speakers"
        answers.append(http_json("GET", server.url + no_key)[1])
        answers.append(call("POST", "get_enrolled_speakers", version="v1", expect=405))
        status, answer = http_json("POST", server.url + "/audio/generic/api/v1/sync/diarization/enroll",
                                   {"content": "bm90IGF1ZGlv", "encoding": "WAV", "speakerId": "dave"},
                                   headers={"apikey": "my-key"})
        assert status == 400
        answers.append(answer)
        answers.append(http_json("GET", server.url + "/_mock/requests?limit=1")[1])
    receiver.close()
    return answers


def _comparable(answer):
    """Drop what differs from machine to machine and run to run: the uptime, the journal's clock and timings."""
    if isinstance(answer, dict):
        return {k: _comparable(v) for k, v in answer.items() if k not in ("uptime_seconds", "time", "duration_ms")}
    if isinstance(answer, list):
        return [_comparable(v) for v in answer]
    return answer


@pytest.mark.live
def test_the_readme_curl_session_shows_what_the_server_answers(tmp_path):
    shown, got = shown_answers(), session_answers(tmp_path)
    assert len(shown) == len(got) == 19
    for n, (expected, actual) in enumerate(zip(shown, got)):
        assert _comparable(actual) == _comparable(expected), f"answer {n + 1} of the README's curl session"


if __name__ == "__main__":  # print the answers to paste into the README
    import tempfile
    for answer in session_answers(Path(tempfile.mkdtemp())):
        print(re.sub(r"\s+", " ", json.dumps(answer, separators=(",", ":"))), file=sys.stdout)
