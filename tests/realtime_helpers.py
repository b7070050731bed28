"""Shared by the realtime tests: checks on answer streams and the vendor-stub client subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from ier import identification_error_rate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VENDOR_CLIENT = Path(__file__).resolve().parent / "realtime_vendor_client.py"


def vendor_stream(target: str, path, key: str, speakers: list[str], chunk_seconds: float = 30.0,
                  speed: float = 0.0, cancel_after: int | None = None, timeout: float = 180.0) -> dict:
    """Run tests/realtime_vendor_client.py (the vendor's stubs) in its own process; its JSON answer."""
    env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python", PYTHONPATH=str(ROOT))
    args = [sys.executable, str(VENDOR_CLIENT), target, str(path), key, ",".join(speakers), str(chunk_seconds),
            str(speed)] + ([str(cancel_after)] if cancel_after is not None else [])
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_answers(answers: list[dict], allowed: set[str], duration: float, offset: float = 0.0) -> None:
    """ids count the answers; answered turns sorted, non-overlapping, inside the stream, 2 decimals, scores in
    [0, 1]; speakers among ``allowed`` (plus "UserNotIdentified", as REST labels unknown speech)."""
    assert [a["id"] for a in answers] == list(range(len(answers)))
    previous = offset
    for a in answers:
        if a["Error"]:
            continue
        assert a["speaker_id"] in allowed | {"UserNotIdentified"}
        assert previous <= a["start"] < a["end"] <= offset + duration + 0.01, (previous, a)
        assert round(a["start"], 2) == a["start"] and round(a["end"], 2) == a["end"]
        assert 0.0 <= a["identification_score"] <= 1.0
        previous = a["end"]


def ier(reference: list[dict], hypothesis: list[dict], collar: float = 0.5) -> float:
    """Identification error rate of ``hypothesis`` against ``reference`` (both REST-style segment dicts)."""
    as_tuples = lambda segs: [(s["speaker_id"], s["start"], s["end"]) for s in segs]  # noqa: E731
    return identification_error_rate(as_tuples(reference), as_tuples(hypothesis), collar=collar)["ier"]


def pipeline_turns(name: str, speakers: list[str]) -> int:
    """How many segments identify answers for fixtures/``name`` with the fixture voices of ``speakers`` (the same
    pipeline over the same voiceprints as a server that enrolled their three files): a stream must answer as
    many."""
    from conftest import fixture_samples

    from mock_server import pipeline
    prints = {s: pipeline.speaker_voiceprint([pipeline.enrollment_voiceprint(fixture_samples(
        f"speakers/{s}/enroll{i}.wav")) for i in (1, 2, 3)]) for s in speakers}
    return len(pipeline.identify_segments(fixture_samples(name), prints))
