"""Faults, stubs and the journal kept in the store: shared by every Store over one file, counted atomically,
bounded, and an existing (pre-versioning) data dir migrated in place."""
from __future__ import annotations

import multiprocessing
import sqlite3
import threading

import pytest

from mock_server.admin.faults import Fault, FaultRegistry, Stub, StubRegistry
from mock_server.admin.journal import Journal, JournalEntry
from mock_server.store import schema
from mock_server.store.database import SCHEMA, Store


def _api_fault(fault_id: str, *, times: int = 1, path: str | None = None, tenant: str | None = None) -> Fault:
    return Fault(id=fault_id, target="api", times=times, path=path, tenant=tenant, status=503,
                 message="injected")


def test_a_fault_armed_through_one_store_is_taken_through_another(tmp_path):
    one, other = FaultRegistry(Store(tmp_path / "db")), FaultRegistry(Store(tmp_path / "db"))
    fault = _api_fault(one.new_id(), times=2, path="/identify")
    one.add(fault)
    assert other.all() == [fault]
    assert other.take_api("POST", "/v2/enroll", None) is None            # no match: nothing used up
    assert other.take_api("POST", "/v2/identify", None) == fault         # as armed, times=2 included this one
    assert one.all()[0].times == 1
    assert one.take_api("POST", "/v2/identify", "any-tenant").times == 1
    assert one.all() == [] and other.take_api("POST", "/v2/identify", None) is None


def test_the_oldest_matching_fault_applies_first_and_tenants_are_kept_apart(tmp_path):
    faults = FaultRegistry(Store(tmp_path / "db"))
    mine, anyone = _api_fault("f-a", tenant="t1"), _api_fault("f-b")
    faults.add(mine)
    faults.add(anyone)
    assert faults.take_api("GET", "/x", "t2") == anyone   # f-a is t1's only
    assert faults.take_api("GET", "/x", "t1") == mine
    faults.add(_api_fault("f-c", tenant="t1"))
    faults.add(_api_fault("f-d", tenant="t2"))
    faults.reset("t1")
    assert [f.id for f in faults.all()] == ["f-d"]
    assert faults.remove("f-d") and not faults.remove("f-d")


def test_a_webhook_fault_round_trips_every_field(tmp_path):
    faults = FaultRegistry(Store(tmp_path / "db"))
    fault = Fault(id=faults.new_id(), target="webhook", times=3, tenant="t", key="key#1234", request_id="r1",
                  error="timeout", delay_ms=250)
    faults.add(fault)
    assert faults.take_api("POST", "/x", "t") is None
    assert faults.take_delivery("t", "r2") is None
    assert faults.take_delivery("t", "r1") == fault
    assert faults.all() == [Fault(**{**fault.__dict__, "times": 2})]


def _take_all(path: str, taken: list) -> None:
    faults = FaultRegistry(Store(path))
    while faults.take_api("POST", "/identify", None) is not None:
        taken.append(1)


def test_a_times_limited_fault_is_used_exactly_times_by_concurrent_threads(tmp_path):
    FaultRegistry(Store(tmp_path / "db")).add(_api_fault("f-1", times=40))
    taken: list = []
    threads = [threading.Thread(target=_take_all, args=(str(tmp_path / "db"), taken)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(taken) == 40


def _take_in_process(path: str, out) -> None:
    faults = FaultRegistry(Store(path))
    count = 0
    while faults.take_api("POST", "/identify", None) is not None:
        count += 1
    out.put(count)


def test_a_times_limited_fault_is_used_exactly_times_by_concurrent_processes(tmp_path):
    FaultRegistry(Store(tmp_path / "db")).add(_api_fault("f-1", times=60))
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each, as separate servers would be
    out = context.Queue()
    workers = [context.Process(target=_take_in_process, args=(str(tmp_path / "db"), out)) for _ in range(3)]
    for worker in workers:
        worker.start()
    counts = [out.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    assert sum(counts) == 60


def test_the_most_specific_then_the_newest_matching_stub_answers(tmp_path):
    stubs = StubRegistry(Store(tmp_path / "db"))
    old = Stub(id=stubs.new_id(), segments=[{"speaker_id": "UserNotIdentified", "start": 0.0, "end": 1.0}])
    new = Stub(id=stubs.new_id(), segments=[{"speaker_id": "b", "start": 0.5, "end": 2.0}],
               speaker_ids=frozenset({"b", "c"}), tenant="t", key="key#1")
    names_a = Stub(id=stubs.new_id(), segments=[{"speaker_id": "a", "start": 0.0, "end": 1.0}])
    stubs.add(old)
    stubs.add(new)
    stubs.add(names_a)
    assert (old.id, new.id, names_a.id) == ("stub-1", "stub-2", "stub-3")
    assert stubs.all() == [old, new, names_a]
    # the exact stub wins over both catch-alls, newer though they are
    assert StubRegistry(Store(tmp_path / "db")).match("t", ["c", "b"], None) == new
    assert stubs.match("t", ["b"], None) == old and stubs.match("u", ["b", "c"], None) == old
    # a catch-all answers only calls asking for the speakers its segments name; then the newest of equals
    assert stubs.match("t", ["a", "b"], None) == names_a
    stubs.reset("t")
    assert stubs.all() == [old, names_a]


def _entry(n: int, tenant: str | None) -> JournalEntry:
    return JournalEntry(time=1000.0 + n, method="POST", path=f"/p{n}", key=None, tenant=tenant, status=200,
                        duration_ms=1.5, speaker_ids=["alice"], segments=[{"speaker_id": "alice", "start": 0.0,
                                                                           "end": 1.0}])


def test_the_journal_keeps_the_newest_entries_and_is_shared(tmp_path):
    journal = Journal(5, store=Store(tmp_path / "db"))
    for n in range(12):
        journal.record(_entry(n, "t1" if n % 2 else "t2"))
    reader = Journal(store=Store(tmp_path / "db"))
    assert [e.path for e in reader.entries()] == ["/p11", "/p10", "/p9", "/p8", "/p7"]
    assert reader.entries(limit=2) == [_entry(11, "t1"), _entry(10, "t2")]
    assert [e.path for e in reader.entries(tenant="t1")] == ["/p11", "/p9", "/p7"]
    reader.reset("t1")
    assert [e.path for e in journal.entries()] == ["/p10", "/p8"]


def test_ids_are_unique_across_stores_until_the_controls_are_cleared(tmp_path):
    one, other = Store(tmp_path / "db"), Store(tmp_path / "db")
    ids = [FaultRegistry(one).new_id(), FaultRegistry(other).new_id(), StubRegistry(other).new_id()]
    assert ids == ["fault-1", "fault-2", "stub-1"]
    FaultRegistry(one).add(_api_fault("fault-2"))
    Journal(store=one).record(_entry(1, None))
    other.clear_controls()
    assert FaultRegistry(one).all() == [] and Journal(store=one).entries() == []
    assert FaultRegistry(one).new_id() == "fault-1"


def test_a_row_with_fields_this_build_does_not_know_still_loads(tmp_path):
    store = Store(tmp_path / "db")
    store.add_fault("f-9", target="api", tenant=None, times=1, spec={"id": "f-9", "target": "api", "status": 500,
                                                                   "flavour": "flaky"})
    assert FaultRegistry(store).all() == [Fault(id="f-9", target="api", times=1, status=500)]


def test_registries_made_without_a_store_work_on_their_own():
    faults = FaultRegistry()
    faults.add(_api_fault(faults.new_id()))
    assert len(faults.all()) == 1 and FaultRegistry().all() == []


def test_a_data_dir_from_before_schema_versions_is_migrated_in_place(tmp_path):
    path = tmp_path / "speakers.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(SCHEMA)  # version 0, as every data dir was written before schema versions
    old.execute("INSERT INTO speakers VALUES ('t', 'alice', 3, x'00', 'm1', 1.0, 1.0)")
    old.execute("INSERT INTO jobs (request_id, tenant, api, webhook, params, status, created, updated) "
                "VALUES ('r1', 't', 'a', 'http://x', '{}', 'queued', 1.0, 1.0)")
    old.commit()
    assert old.execute("PRAGMA user_version").fetchone()[0] == 0
    old.close()

    store = Store(path)
    assert list(store.speakers("t")) == ["alice"] and store.unfinished_jobs() == [1]
    FaultRegistry(store).add(_api_fault("f-1"))
    assert [f.id for f in FaultRegistry(Store(path)).all()] == ["f-1"]   # reopening does not migrate again
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST
    check.close()


def test_a_data_dir_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "speakers.sqlite3"
    newer = sqlite3.connect(path)
    newer.execute(f"PRAGMA user_version = {schema.LATEST + 1}")
    newer.close()
    with pytest.raises(schema.SchemaTooNew, match="newer"):
        Store(path)
