"""pytest plugin: a live speaker-id-mock for your tests, installed with the package (entry point ``pytest11``).

Fixtures:

- ``speaker_id_server``: the mock, one process per test session (per xdist worker; or one server for all workers
  with the ini option ``speaker_id_mock_url`` / env ``SPEAKER_ID_MOCK_URL``), seen through a fresh api key
  per test, so tests never see each other's speakers, jobs, journal, faults or stubs; that key's state is reset
  when the test ends. Has ``.url``, ``.api_key``, ``.api_url`` and helpers (``enroll``, ``identify``, ``list``,
  ``delete``, ``requests``, ``webhooks``, ``jobs``, ``fault``, ``stub``, ``reset``, ``url_for``); the realtime
  gRPC API at ``.grpc_target`` and ``stream(path, speaker_ids, chunk_seconds=30)`` streaming a file SDK-style.
- ``webhook_receiver``: a real HTTP endpoint on 127.0.0.1 recording POSTs; ``wait_for(request_id, timeout)``.
- ``enrolled_speakers``: the bundled voices (alice, bob, carol, dave) enrolled under the test's key; their ids.

``clip_path(name)`` gives bundled test recordings: "alice_short.flac" (alice alone, 4 s) and "conversation.ogg"
(alice, bob and carol in a 30 s meeting). Extra server flags: the ini option ``speaker_id_mock_args``.
Everything listens on loopback only.
"""
from __future__ import annotations

import base64
import os
import shlex
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from mock_server.testing import LiveServer, WebhookReceiver, http_json

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # mock_server/: the bundled voices and clips
VOICES_DIR = PACKAGE_DIR / "voices"      # <speakerId>/enroll{1,2,3}.wav, copies of fixtures/speakers
CLIPS_DIR = PACKAGE_DIR / "clips"
API_VERSION = "v2"
DEFAULT_ARGS = ("--webhook-backoff", "0.1")  # retries quickly: tests wait for them
TIMEOUT = 120.0                              # one HTTP call to the mock, seconds


class MockApiError(Exception):
    """The mock answered an error. The vendor's side of its fault body: ``fault_string`` (from ``fault_string``
    or the gateway's ``faultstring``) and ``vendor_code`` (``error_code`` / ``errorcode``); the mock's side:
    ``code`` (stable snake_case) and ``message`` (how to fix it); and ``status`` and the whole ``body``."""

    def __init__(self, status: int, body):
        fault = body.get("fault", {}) if isinstance(body, dict) else {}
        detail = fault.get("detail", {}) if isinstance(fault, dict) else {}
        self.status, self.body = status, body
        self.fault_string = fault.get("fault_string", fault.get("faultstring"))
        self.vendor_code = detail.get("error_code", detail.get("errorcode"))
        self.code, self.message = detail.get("code"), detail.get("message")
        super().__init__(f"HTTP {status} {self.code}: {self.message}")


def clip_path(name: str) -> Path:
    """A recording bundled with the package, to identify in tests."""
    path = CLIPS_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"no bundled clip {name!r}; there are {sorted(p.name for p in CLIPS_DIR.iterdir())}")
    return path


def voice_files(speaker_id: str) -> list[Path]:
    """The bundled enrollment recordings of one of the fixture voices."""
    files = sorted((VOICES_DIR / speaker_id).glob("*.wav"))
    if not files:
        raise FileNotFoundError(f"no bundled voice {speaker_id!r}; there are {bundled_voices()}")
    return files


def bundled_voices() -> list[str]:
    return sorted(p.name for p in VOICES_DIR.iterdir() if p.is_dir())


class SpeakerIdServer:
    """The mock as one test sees it: its url, its own api key, and helpers speaking the vendor's API."""

    def __init__(self, url: str, api_key: str, *, version: str = API_VERSION, grpc_target: str = ""):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.api_url = f"{self.url}/audio/generic/api/{version}"  # the base url to give your own client
        self.grpc_target = grpc_target  # "127.0.0.1:PORT" of the realtime gRPC API, for your own channel

    # --- the realtime gRPC API ------------------------------------------------------------------------------

    def stream(self, audio, speaker_ids: list[str], *, chunk_seconds: float = 30.0, speed: float = 0.0):
        """Stream a file over the realtime gRPC API the way the vendor's SDK does (WAV pieces of
        ``chunk_seconds``, this key and ``speaker_ids`` in the metadata); ``speed`` > 0 paces it like a live
        source at that multiple of real time. Returns a testing.realtime_client.StreamResult (``.answers``,
        ``.segments``, ``.sent``); raises grpc.RpcError when the call fails."""
        from mock_server.testing.realtime_client import stream_file
        if not self.grpc_target:
            raise RuntimeError("this mock serves no realtime gRPC API (--no-grpc, --processes > 1, or an external "
                               "server without SPEAKER_ID_MOCK_GRPC_TARGET)")
        return stream_file(self.grpc_target, audio, api_key=self.api_key, speaker_ids=list(speaker_ids),
                           chunk_seconds=chunk_seconds, speed=speed, timeout=TIMEOUT)

    # --- plumbing -------------------------------------------------------------------------------------------

    def url_for(self, path: str, **query) -> str:
        """A full url: "sync/diarization/enroll" is under ``api_url``, "/_mock/..." under ``url``; the api key
        is added to api paths."""
        if path.startswith("/"):
            base = self.url + path
        else:
            base = f"{self.api_url}/{path}"
            query = {"apikey": self.api_key, **query}
        query = {k: v for k, v in query.items() if v is not None}
        return base + ("?" + urllib.parse.urlencode(query) if query else "")

    def call(self, method: str, path: str, body=None, **query) -> tuple[int, object]:
        """One HTTP call; returns (status, decoded JSON body) without raising for error statuses."""
        return http_json(method, self.url_for(path, **query), body, timeout=TIMEOUT)

    def _ok(self, method: str, path: str, body=None, **query):
        status, answer = self.call(method, path, body, **query)
        if status >= 400:
            raise MockApiError(status, answer)
        return answer

    # --- the vendor's API -----------------------------------------------------------------------------------

    def enroll(self, speaker_id: str, audio, *, encoding: str | None = None) -> dict:
        """Enroll one recording (a path or bytes); returns the answer: under the 2020 profile (default)
        ``{"message": "Success", "enrollment_complete": bool, "enroll_quality", "total_speech_duration", ...}``,
        under 2019 ``{"message": "Success" | "Complete"}``."""
        body = {"speakerId": speaker_id, **_audio(audio, encoding)}
        return self._ok("POST", "sync/diarization/enroll", body)

    def enroll_voice(self, speaker_id: str) -> dict:
        """Enroll every bundled recording of one fixture voice (alice, bob, carol or dave); the last answer."""
        answer: dict = {}
        for path in voice_files(speaker_id):
            answer = self.enroll(speaker_id, path)
        return answer

    def enrollment(self, speaker_id: str) -> dict:
        """One speaker's status (2020 profile): ``{"speaker_id", "enrollment_complete", ...}``."""
        return self._ok("GET", "sync/diarization/enroll", speakerId=speaker_id)

    def identify(self, audio, speaker_ids: list[str], webhook=None, request_id: str | None = None, *,
                 encoding: str | None = None) -> dict:
        """Who speaks when. Without ``webhook``: the sync answer ``{"segments": [...]}``. With one (a url, or a
        WebhookReceiver, whose "/webhook" path is used): the async acknowledgement ``{"request_id", "api"}``."""
        body = {"speakerIds": list(speaker_ids), **_audio(audio, encoding)}
        if webhook is None:
            return self._ok("POST", "sync/diarization/identify", body)
        hook = webhook if isinstance(webhook, str) else f"{webhook.url}/webhook"
        return self._ok("POST", "async/diarization/identify", body, webhook=hook, request_id=request_id)

    def list(self, *, all_speakers: bool = False) -> list[dict]:
        """This key's speakers: ``[{"speaker_id", "enrollment_complete", ...}]`` (2020 profile: complete ones,
        or all with ``all_speakers``)."""
        query = {"getAllSpeakers": "True"} if all_speakers else {}
        return self._ok("GET", "sync/diarization/get_enrolled_speakers", **query)["enrolled_speaker_ids"]

    def delete(self, speaker_id: str) -> dict:
        return self._ok("POST", "sync/diarization/delete", {"speakerId": speaker_id})

    # --- the admin API, scoped to this key ------------------------------------------------------------------

    def requests(self, limit: int = 100) -> list[dict]:
        """This key's recent API calls, newest first."""
        return self._ok("GET", "/_mock/requests", apikey=self.api_key, limit=limit)["requests"]

    def webhooks(self) -> list[dict]:
        """This key's webhook delivery attempts, newest first."""
        return self._ok("GET", "/_mock/webhooks", apikey=self.api_key)["webhooks"]

    def jobs(self, request_id: str) -> list[dict]:
        return self._ok("GET", f"/_mock/jobs/{urllib.parse.quote(request_id, safe='')}",
                        apikey=self.api_key)["jobs"]

    def fault(self, *, path: str | None = None, method: str | None = None, times: int = 1,
              status: int | None = None, code: str | None = None, message: str | None = None,
              delay_ms: int | None = None, target: str = "api", error: str | None = None,
              request_id: str | None = None, preset: str | None = None) -> dict:
        """Fail or delay this key's next ``times`` matching API calls (``target="api"``; ``preset``, e.g.
        "quota_exceeded" or "rate_limit", answers one of the vendor's documented errors) or webhook deliveries
        (``target="webhook"``, with ``status`` or ``error="connection" | "timeout"``)."""
        match = {"apikey": self.api_key, "path": path, "method": method, "request_id": request_id}
        body = {"target": target, "match": {k: v for k, v in match.items() if v is not None}, "times": times,
                "status": status, "code": code, "message": message, "delay_ms": delay_ms, "error": error,
                "preset": preset}
        return self._ok("POST", "/_mock/faults", {k: v for k, v in body.items() if v is not None})["fault"]

    def stub(self, segments: list[dict], *, speaker_ids: list[str] | None = None,
             request_id: str | None = None) -> dict:
        """Answer this key's identify calls naming exactly ``speaker_ids`` (and/or with ``request_id``; with neither,
        every call asking for the speakers ``segments`` name) with ``segments`` instead of listening. Each segment
        names one of ``speaker_ids`` or "UserNotIdentified"; times are rounded to 2 decimals."""
        match = {k: v for k, v in (("speakerIds", speaker_ids), ("request_id", request_id)) if v is not None}
        return self._ok("POST", "/_mock/stubs", {"match": match, "apikey": self.api_key,
                                                 "response": {"segments": segments}})["stub"]

    def reset(self) -> None:
        """Forget this key's speakers, jobs, deliveries, journal, faults and stubs."""
        self._ok("POST", "/_mock/reset", {"apikey": self.api_key})


def _audio(audio, encoding: str | None) -> dict:
    if isinstance(audio, (str, Path)):
        path = Path(audio)
        data = path.read_bytes()
        encoding = encoding or {".wav": "WAV", ".flac": "FLAC", ".mp3": "MP3", ".ogg": "OGG"}.get(
            path.suffix.lower())
    elif isinstance(audio, (bytes, bytearray, memoryview)):
        data = bytes(audio)
    else:
        raise TypeError(f"audio must be a path or bytes, not {type(audio).__name__}")
    body = {"content": base64.b64encode(data).decode("ascii")}
    if encoding:
        body["encoding"] = encoding
    return body


# --- pytest hooks and fixtures --------------------------------------------------------------------------------

def pytest_addoption(parser):
    parser.addini("speaker_id_mock_args", "extra flags for the speaker-id-mock server the fixtures start "
                  "(e.g. --enrollments-required 1)", default="")
    parser.addini("speaker_id_mock_profile", "the vendor docs the started server answers as: 2020 (default) or "
                  "2019 (the earlier enrollment behaviour); same as --api-profile in speaker_id_mock_args",
                  default="")
    parser.addini("speaker_id_mock_url", "use the speaker-id-mock already running at this URL instead of starting "
                  "one (also the SPEAKER_ID_MOCK_URL environment variable); every test still gets its own key",
                  default="")


class _RunningServer:
    """A mock someone else started (e.g. CI, once for all xdist workers): used, never stopped."""

    def __init__(self, url: str, grpc_target: str = ""):
        self.url = url.rstrip("/")
        self.grpc_target = grpc_target.strip().removeprefix("grpc=")   # the url file's line, pasted whole

    def check(self) -> None:
        """Raise a RuntimeError that says what to do when nothing answers /health at the url."""
        try:
            status, _ = http_json("GET", f"{self.url}/health", timeout=10)
        except OSError as exc:
            status, reason = 0, str(exc)
        else:
            reason = f"HTTP {status}"
        if status != 200:
            raise RuntimeError(f"no speaker-id-mock answers at {self.url} (SPEAKER_ID_MOCK_URL or the ini option "
                               f"speaker_id_mock_url): /health gave {reason}. Start it (scripts/serve, or python -m "
                               "mock_server --port 0 --url-file F), or unset both so the plugin starts its own.")


@pytest.fixture(scope="session")
def speaker_id_mock_process(request, tmp_path_factory):
    """The live mock process shared by the session (one per xdist worker, or the one at ``speaker_id_mock_url``);
    prefer ``speaker_id_server``."""
    url = os.environ.get("SPEAKER_ID_MOCK_URL") or request.config.getini("speaker_id_mock_url")
    if url:
        running = _RunningServer(url, os.environ.get("SPEAKER_ID_MOCK_GRPC_TARGET", ""))
        running.check()
        yield running
        return
    args = [*DEFAULT_ARGS, *shlex.split(request.config.getini("speaker_id_mock_args") or "")]
    profile = request.config.getini("speaker_id_mock_profile")
    if profile:
        args += ["--api-profile", profile]
    server = LiveServer(*args, data_dir=tmp_path_factory.mktemp("speaker-id-mock"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def speaker_id_server(speaker_id_mock_process) -> SpeakerIdServer:
    """The mock, seen through an api key of this test's own; that key's state is reset afterwards."""
    server = SpeakerIdServer(speaker_id_mock_process.url, f"pytest-{uuid.uuid4().hex}",
                             grpc_target=getattr(speaker_id_mock_process, "grpc_target", ""))
    yield server
    server.reset()


@pytest.fixture
def webhook_receiver() -> WebhookReceiver:
    """A real webhook endpoint on 127.0.0.1: ``.url``, ``.deliveries``, ``.wait_for(request_id, timeout)``."""
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def enrolled_speakers(speaker_id_server) -> list[str]:
    """alice, bob, carol and dave (bundled voices) fully enrolled under this test's key."""
    ids = bundled_voices()
    for speaker_id in ids:
        speaker_id_server.enroll_voice(speaker_id)
    return ids
