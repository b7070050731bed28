"""The realtime contract and its committed generated modules cannot drift apart: scripts/gen_realtime_proto, run
into a temporary directory, writes exactly the committed mock_server/realtime/*_pb2* files, byte for byte."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import FIXTURES

ROOT = FIXTURES.parent
GENERATED = ("deepaffects_realtime_pb2.py", "deepaffects_realtime_pb2.pyi", "deepaffects_realtime_pb2_grpc.py")


def test_the_generator_reproduces_the_committed_modules(tmp_path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools (the test extra) runs the generator")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "gen_realtime_proto"), str(tmp_path)],
                          env=dict(os.environ, PYTHON=sys.executable), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    written = sorted(p.name for p in (tmp_path / "mock_server" / "realtime").iterdir())
    assert written == sorted(GENERATED)
    for name in GENERATED:
        fresh = (tmp_path / "mock_server" / "realtime" / name).read_bytes()
        committed = (ROOT / "mock_server" / "realtime" / name).read_bytes()
        assert fresh == committed, (f"mock_server/realtime/{name} is not what scripts/gen_realtime_proto writes from "
                                    "the .proto: run the script and commit its output unchanged")
