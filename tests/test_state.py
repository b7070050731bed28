"""state.py: MockState declares, typed, everything the rooms set on it (slotted: nothing can be added on the side)."""
from __future__ import annotations

import dataclasses
import re

import pytest

from mock_server.app import state_of
from mock_server.state import MockState


def test_drained_is_declared_false_until_a_drain_sets_it(app):
    state = state_of(app)
    drained = {f.name: f for f in dataclasses.fields(MockState)}["drained"]
    assert drained.type == "bool" and drained.default is False
    assert state.drained is False
    state.drained = state.runner.stop(timeout=5)   # what server/main.py and server/processes.py do on SIGTERM
    assert state.drained is True


def test_an_attribute_not_declared_on_mock_state_cannot_be_set(app):
    with pytest.raises(AttributeError):
        state_of(app).undeclared = True


@pytest.mark.live
@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_server_stopped_with_nothing_in_flight_logs_that_it_drained(tmp_path, processes):
    """The server process (server/main.py) or each worker (server/processes.py) sets ``drained`` on SIGTERM and
    its last log line reads it."""
    from mock_server.testing import LiveServer

    server = LiveServer("--processes", processes, "--no-grpc", data_dir=tmp_path / "live").start()
    try:
        # start() returns once every worker is ready (a worker stopped while booting has nothing to drain)
        ready = re.findall(r"speaker-id-mock: worker \d+ ready", server.log())
        assert len(ready) == (int(processes) if processes != "1" else 0)      # one process has no workers
        assert server.stop() == 0
        log = server.log()
    finally:
        server.close()
    assert log.count("stopped (drained)") == int(processes), log[-2000:]
    assert "drain deadline reached" not in log
