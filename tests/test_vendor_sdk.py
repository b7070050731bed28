"""The vendor's own swagger-generated Python SDK (deepaffects 1.4.1), pointed at the mock, works unchanged.

The published SDK ships the swagger client machinery and the Audio/AsyncResponse models but no class for
the speaker enroll/identify endpoints, so `SpeakerIdentificationApi` below is written exactly the way the
generator writes its API classes (compare deepaffects/apis/diarize_api_v2.py): ApiClient.call_api with the
documented path, the `UserSecurity` query-key auth setting, and the SDK's own models.
"""
import base64

import pytest
from conftest import FIXTURES

from mock_server.testing import LiveServer, WebhookReceiver

deepaffects = pytest.importorskip(
    "deepaffects", reason="the vendor SDK is installed by scripts/test (pip install --no-deps deepaffects==1.4.1)")

PREFIX = "/audio/generic/api/v2"

pytestmark = pytest.mark.live  # every test here talks to a mock server process


class SpeakerIdentificationApi:
    """What swagger-codegen generates for the identification family, on the SDK's ApiClient."""

    def __init__(self, api_client):
        self.api_client = api_client

    def _call(self, method, path, *, body=None, query=(), response_type="object"):
        header_params = {"Accept": self.api_client.select_header_accept(["application/json"]),
                         "Content-Type": self.api_client.select_header_content_type(["application/json"])}
        return self.api_client.call_api(PREFIX + path, method, {}, list(query), header_params, body=body,
                                        post_params=[], files={}, response_type=response_type,
                                        auth_settings=["UserSecurity"], _return_http_data_only=True)

    def enroll(self, audio, speaker_id):
        body = self.api_client.sanitize_for_serialization(audio)
        return self._call("POST", "/sync/diarization/enroll", body=dict(body, speakerId=speaker_id))

    def get_enrolled_speakers(self):
        return self._call("GET", "/sync/diarization/get_enrolled_speakers")

    def sync_identify(self, audio, speaker_ids):
        body = self.api_client.sanitize_for_serialization(audio)
        return self._call("POST", "/sync/diarization/identify", body=dict(body, speakerIds=speaker_ids))

    def async_identify(self, audio, speaker_ids, webhook, request_id=None):
        body = self.api_client.sanitize_for_serialization(audio)
        query = [("webhook", webhook)] + ([("request_id", request_id)] if request_id is not None else [])
        return self._call("POST", "/async/diarization/identify", body=dict(body, speakerIds=speaker_ids),
                          query=query, response_type="AsyncResponse")

    def delete(self, speaker_id):
        return self._call("POST", "/sync/diarization/delete", body={"speakerId": speaker_id})


def _audio(path, encoding="WAV", sample_rate="16000"):
    content = base64.b64encode((FIXTURES / path).read_bytes()).decode()
    # The SDK's Audio model types sampleRate as a string; the mock accepts it as the vendor does.
    return deepaffects.Audio(encoding=encoding, sample_rate=sample_rate, language_code="en-US", content=content)


@pytest.fixture(scope="module")
def sdk(tmp_path_factory):
    # The SDK (1.4.1) was written against the 2019 docs: Success, Success, Complete and "True" strings.
    with LiveServer("--api-profile", "2019", data_dir=tmp_path_factory.mktemp("sdk")) as server:
        deepaffects.configuration.api_key["apikey"] = "sdk-key"
        yield SpeakerIdentificationApi(deepaffects.ApiClient(host=server.url))


def test_the_vendor_sdk_enrolls_lists_identifies_and_deletes(sdk, voices):
    for speaker in ("alice", "bob", "dave"):
        answers = [sdk.enroll(_audio(e["file"]), speaker)["message"] for e in voices["speakers"][speaker]["enroll"]]
        assert answers == ["Success", "Success", "Complete"]
    listed = sdk.get_enrolled_speakers()
    assert listed["enrolled_speaker_ids"] == [{"speaker_id": s, "enrollment_complete": "True"}
                                              for s in ("alice", "bob", "dave")]

    test = voices["tests"]["stranger_conversation"]
    segments = sdk.sync_identify(_audio(test["file"], "FLAC"), ["alice", "dave"])["segments"]
    assert {s["speaker_id"] for s in segments} <= {"alice", "dave", "UserNotIdentified"} and "alice" in {
        s["speaker_id"] for s in segments}

    with WebhookReceiver() as receiver:
        accepted = sdk.async_identify(_audio("alice_short.flac", "FLAC"), ["alice", "bob"], receiver.url + "/cb",
                                      request_id=7)
        assert isinstance(accepted, deepaffects.AsyncResponse)
        assert accepted.request_id == "7" and accepted.api
        delivered = receiver.wait_for("7", timeout=30).body
    assert {s["speaker_id"] for s in delivered["response"]["segments"]} == {"alice"}

    assert sdk.delete("bob") == {"message": "Success"}
    assert [s["speaker_id"] for s in sdk.get_enrolled_speakers()["enrolled_speaker_ids"]] == ["alice", "dave"]
    with pytest.raises(deepaffects.rest.ApiException) as refused:
        sdk.delete("bob")
    assert refused.value.status == 404
