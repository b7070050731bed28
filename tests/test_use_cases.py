"""One path per use case: the same steps in the same order for sync and async identify, and enrollments that
race each other all land (compare-and-swap on the enrollment count, the voice model fitted outside the lock)."""
from __future__ import annotations

import threading

from conftest import Api

from mock_server.app import state_of
from mock_server.core.auth import tenant_of
from mock_server.testing import WebhookReceiver

STUB = [{"speaker_id": "ghost", "start": 0.0, "end": 1.25}]  # a stub names only the speakers it is asked for


def _stub(client, **match) -> None:
    response = client.post("/_mock/stubs", json={"match": match, "response": {"segments": STUB}},
                           environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 200, response.get_json()


def test_a_stub_for_speakers_nobody_enrolled_answers_sync_and_async_alike(api: Api):
    """The stub is looked up before the speakers are checked, on both doors (async used to check first)."""
    _stub(api.client, speakerIds=["ghost"])
    sync = api.identify("alice_short.flac", ["ghost"])
    assert sync.status_code == 200 and sync.get_json() == {"segments": STUB}
    with WebhookReceiver() as receiver:
        accepted = api.identify("alice_short.flac", ["ghost"], mode="async", query={"webhook": receiver.url + "/h"})
        assert accepted.status_code == 202, accepted.get_json()
        delivery = receiver.wait_for(accepted.get_json()["request_id"], timeout=30)
    assert delivery.body["response"] == {"segments": STUB}


def test_without_a_stub_both_doors_refuse_unknown_speakers_the_same_way(api: Api):
    sync = api.identify("alice_short.flac", ["ghost"])
    with WebhookReceiver() as receiver:
        async_ = api.identify("alice_short.flac", ["ghost"], mode="async", query={"webhook": receiver.url + "/h"})
    assert sync.status_code == async_.status_code == 400
    assert sync.get_json() == async_.get_json()


def test_enrollments_racing_each_other_all_land(api: Api, voices):
    """Eight threads enroll the same speaker at once through HTTP: every enrollment is counted and the stored
    voiceprint is the one fitted from all of them."""
    files = [e["file"] for e in voices["speakers"]["bob"]["enroll"]]
    answers: list[int] = []

    def enroll(i: int) -> None:
        answers.append(api.enroll("bob", files[i % len(files)]).status_code)

    threads = [threading.Thread(target=enroll, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answers == [200] * 8
    state = state_of(api.client.application)
    record = state.store.speakers(tenant_of(api.key), ["bob"])["bob"]
    assert record.enrollments == 8
    from mock_server.core.service import combine_voiceprints
    stored = state.store.enrollment_voiceprints(tenant_of(api.key), "bob", record.model_version)
    assert len(stored) == 8 and record.voiceprint == combine_voiceprints(stored)
