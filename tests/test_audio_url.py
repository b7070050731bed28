"""Audio urls as clients write them, fetched from a loopback server: spaces and non-ASCII paths percent-encoded,
``user:password@`` sent as Basic auth and never shown, credentials kept only for their own origin."""
from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from answers import error_of
from conftest import fixture_bytes

from mock_server.testing import WebhookReceiver

USER, PASSWORD = "ann", "p@ss w:rd/é"  # needs percent-encoding inside a url: @ : / space and non-ASCII
CLIP = fixture_bytes("alice_short.flac")


class ClipHost:
    """Serves alice_short.flac at a path with a space and accents, and behind Basic auth; records what came."""

    def __init__(self):
        self.seen: list[tuple[str, str | None]] = []  # (raw request path, Authorization header)
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                host.seen.append((self.path, self.headers.get("Authorization")))
                expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if self.path == "/clips/my%20clip%20%C3%A9t%C3%A9.flac":
                    self._send(200, CLIP)
                elif self.path == "/private/clip.flac":
                    if self.headers.get("Authorization") == expected:
                        self._send(200, CLIP)
                    else:
                        self._send(401, b"", {"WWW-Authenticate": 'Basic realm="clips"'})
                elif self.path in ("/redirect-same", "/redirect-other"):
                    target = "/private/clip.flac" if self.path == "/redirect-same" else \
                        f"http://localhost:{self.server.server_address[1]}/private/clip.flac"
                    self._send(302, b"", {"Location": target})
                else:
                    self._send(404, b"")

            def _send(self, status, body, headers=None):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, path: str, *, credentials: bool = False, password: str = PASSWORD) -> str:
        userinfo = f"{urllib.parse.quote(USER, safe='')}:{urllib.parse.quote(password, safe='')}@" if credentials \
            else ""
        return f"http://{userinfo}127.0.0.1:{self.port}{path}"

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def clip_host():
    host = ClipHost()
    yield host
    host.close()


def _identify(api, url: str):
    """Sync identify of alice_short.flac (alice alone) by url, among alice and bob."""
    return api.client.post(api.url("sync/diarization/identify"), json={"url": url, "speakerIds": ["alice", "bob"]})


def _assert_alice(response) -> None:
    assert response.status_code == 200, response.get_json()
    segments = response.get_json()["segments"]
    assert segments and {s["speaker_id"] for s in segments} == {"alice"}


def _assert_never_shown(text: str) -> None:
    for form in (PASSWORD, urllib.parse.quote(PASSWORD, safe=""), "p@ss", "w:rd"):
        assert form not in text


def test_a_path_with_spaces_and_accents_is_percent_encoded(enrolled_api, clip_host):
    _assert_alice(_identify(enrolled_api, clip_host.url("/clips/my clip été.flac")))
    assert clip_host.seen == [("/clips/my%20clip%20%C3%A9t%C3%A9.flac", None)]


def test_an_already_encoded_path_is_not_encoded_twice(enrolled_api, clip_host):
    _assert_alice(_identify(enrolled_api, clip_host.url("/clips/my%20clip%20%C3%A9t%C3%A9.flac")))


def test_credentials_in_the_url_are_sent_as_basic_auth(enrolled_api, clip_host):
    _assert_alice(_identify(enrolled_api, clip_host.url("/private/clip.flac", credentials=True)))
    path, authorization = clip_host.seen[-1]
    assert path == "/private/clip.flac" and authorization.startswith("Basic ")  # user:pass@ not in the request line


def test_a_refused_password_is_never_shown(enrolled_api, clip_host, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = clip_host.url("/private/clip.flac", credentials=True, password="wrong " + PASSWORD)
    response = _identify(enrolled_api, wrong)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "url_fetch_failed" and "401" in error["message"] and "refused" in error["message"]
    _assert_never_shown(json.dumps(response.get_json()))
    _assert_never_shown(json.dumps(enrolled_api.client.get("/_mock/requests").get_json()))
    _assert_never_shown(caplog.text)


def test_no_credentials_for_a_401_says_how_to_give_them(enrolled_api, clip_host):
    response = _identify(enrolled_api, clip_host.url("/private/clip.flac"))
    assert response.status_code == 400
    assert "user:password@" in error_of(response)["message"]


def test_credentials_follow_a_redirect_on_the_same_origin_only(enrolled_api, clip_host):
    _assert_alice(_identify(enrolled_api, clip_host.url("/redirect-same", credentials=True)))
    assert clip_host.seen[-1][0] == "/private/clip.flac" and clip_host.seen[-1][1] is not None
    other = _identify(enrolled_api, clip_host.url("/redirect-other", credentials=True))
    assert other.status_code == 400 and error_of(other)["code"] == "url_fetch_failed"
    assert "redirected to another host" in error_of(other)["message"]
    assert clip_host.seen[-1] == ("/private/clip.flac", None)  # localhost is another origin: nothing sent there


def test_an_invalid_url_is_refused_with_its_password_masked(enrolled_api):
    response = _identify(enrolled_api, f"ftp://{USER}:{urllib.parse.quote(PASSWORD, safe='')}@127.0.0.1/clip.flac")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_url" and f"{USER}:***@" in error["message"]
    _assert_never_shown(error["message"])


def test_a_control_character_is_named(enrolled_api, clip_host):
    response = _identify(enrolled_api, clip_host.url("/clips/a\nb.flac"))
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_url" and "control character (U+000A)" in error["message"]


def test_an_async_job_fetches_with_credentials_and_never_shows_them(enrolled_api, clip_host):
    api = enrolled_api
    with WebhookReceiver() as receiver:
        for request_id, password in (("right", PASSWORD), ("wrong", "wrong " + PASSWORD)):
            response = api.client.post(
                api.url("async/diarization/identify", webhook=receiver.url + "/h", request_id=request_id),
                json={"url": clip_host.url("/private/clip.flac", credentials=True, password=password),
                      "speakerIds": ["alice", "bob"]})
            assert response.status_code in (200, 202), response.get_json()
        right = receiver.wait_for("right", timeout=30).body["response"]
        assert {s["speaker_id"] for s in right["segments"]} == {"alice"}
        wrong = receiver.wait_for("wrong", timeout=30).body["response"]
        assert "url_fetch_failed" in json.dumps(wrong)  # the stable code, whatever the error body's shape
        _assert_never_shown(json.dumps(wrong))
    for view in ("/_mock/requests", f"/_mock/jobs/right?apikey={api.key}", f"/_mock/jobs/wrong?apikey={api.key}"):
        shown = api.client.get(view)
        assert shown.status_code == 200
        _assert_never_shown(shown.get_data(as_text=True))


# --- clients fill the source they do not use with "" -----------------------------------------------------------

@pytest.mark.parametrize("blank", ["", "   "])
def test_an_empty_url_next_to_content_counts_as_absent_in_sync_identify(enrolled_api, blank):
    response = enrolled_api.client.post(enrolled_api.url("sync/diarization/identify"), json={
        "url": blank, "content": base64.b64encode(CLIP).decode(), "speakerIds": ["alice", "bob"]})
    _assert_alice(response)


def test_an_empty_url_next_to_content_counts_as_absent_in_async_identify(enrolled_api, receiver):
    api = enrolled_api
    response = api.client.post(api.url("async/diarization/identify", webhook=receiver.url + "/h", request_id="blank"),
                               json={"url": "", "content": base64.b64encode(CLIP).decode(),
                                     "speakerIds": ["alice", "bob"]})
    assert response.status_code == 202, response.get_json()
    segments = receiver.wait_for("blank", timeout=60).body["response"]["segments"]
    assert {s["speaker_id"] for s in segments} == {"alice"}


def test_an_empty_url_next_to_content_counts_as_absent_in_enroll(api):
    response = api.client.post(api.url("sync/diarization/enroll"), json={
        "url": "", "content": base64.b64encode(fixture_bytes("speakers/alice/enroll1.wav")).decode(),
        "speakerId": "alice"})
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("path,field", [("sync/diarization/identify", {"speakerIds": ["alice", "bob"]}),
                                        ("sync/diarization/enroll", {"speakerId": "alice"})])
def test_an_empty_content_next_to_a_url_counts_as_absent(enrolled_api, receiver, path, field):
    receiver.files["/clip.flac"] = fixture_bytes("speakers/alice/enroll1.wav") if "enroll" in path else CLIP
    response = enrolled_api.client.post(enrolled_api.url(path), json={
        "content": "", "url": receiver.url + "/clip.flac", **field})
    assert response.status_code == 200, response.get_json()
    assert ("GET", "/clip.flac") in receiver.requests


@pytest.mark.parametrize("body,code,words", [
    ({"url": ""}, "audio_source_conflict", "neither"),
    ({"url": " ", "content": None}, "audio_source_conflict", "neither"),
    ({"url": "", "content": ""}, "empty_audio", "content is empty"),  # no url: the empty content is what was sent
    ({"url": 5, "content": base64.b64encode(CLIP).decode()}, "audio_source_conflict", "both"),
])
def test_blank_sources_that_leave_nothing_are_still_refused(client, body, code, words):
    response = client.post("/audio/generic/api/v2/sync/diarization/identify?apikey=k",
                           json={**body, "speakerIds": ["alice"]})
    assert response.status_code == 400, response.get_json()
    error = error_of(response)
    assert error["code"] == code and words in error["message"], error


def test_a_urls_bytes_decide_whether_its_sample_rate_must_be_in_range(enrolled_api, receiver):
    # Known only once downloaded: the FLAC's header wins over a rate of 1000; headerless samples are refused.
    receiver.files["/clip.flac"] = CLIP
    receiver.files["/clip.raw"] = fixture_bytes("conversation.raw")
    url = enrolled_api.url("sync/diarization/identify")
    flac = enrolled_api.client.post(url, json={"url": receiver.url + "/clip.flac", "sampleRate": 1000,
                                               "speakerIds": ["alice", "bob"]})
    _assert_alice(flac)
    raw = enrolled_api.client.post(url, json={"url": receiver.url + "/clip.raw", "encoding": "LINEAR16",
                                              "sampleRate": 1000, "speakerIds": ["alice", "bob"]})
    assert raw.status_code == 400, raw.get_json()
    error = error_of(raw)
    assert error["code"] == "invalid_parameter" and "sampleRate 1000 is out of range" in error["message"], error
