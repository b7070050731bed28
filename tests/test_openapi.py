"""The OpenAPI document: valid 3.1, in step with the Flask routes, and true of the real responses."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from conftest import b64
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi

from mock_server.app import state_of
from mock_server.core.config import ServerConfig
from mock_server.core.profiles import UNKNOWN_SPEAKER as UNKNOWN
from mock_server.testing import WebhookReceiver, wait_until

METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH"}


@pytest.fixture(params=[True, False], ids=["admin", "no-admin"])
def any_app(request, tmp_path, make_app):
    return make_app(ServerConfig(data_dir=tmp_path / "data", admin=request.param), start_workers=False)


def document_of(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.is_json
    return response.get_json()


def flask_operations(app) -> set[tuple[str, str]]:
    """(OpenAPI-style path, method) for every route the app serves, HEAD/OPTIONS and static files aside."""
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        out |= {(path, m) for m in rule.methods & METHODS}
    return out


def document_operations(document: dict) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in document["paths"].items()
            for method in item if method.upper() in METHODS}


# --- the document ---------------------------------------------------------------------------------------------

def test_document_is_valid_openapi_3_1(any_app):
    document = document_of(any_app.test_client())
    assert document["openapi"].startswith("3.1")
    validate_openapi(document)  # raises OpenAPIValidationError with the offending path


def test_every_route_is_documented_and_every_documented_path_is_served(any_app):
    document = document_of(any_app.test_client())
    served, documented = flask_operations(any_app), document_operations(document)
    assert served - documented == set(), "routes missing from /openapi.json"
    assert documented - served == set(), "documented operations the app does not serve"


def test_admin_paths_exist_only_with_admin_on(any_app):
    admin = state_of(any_app).config.admin
    paths = document_of(any_app.test_client())["paths"]
    assert any(p.startswith("/_mock/") for p in paths) is admin
    assert ("/_mock/ui" in paths) is admin
    description = document_of(any_app.test_client())["info"]["description"]
    assert ("/_mock" in description) is admin                      # the /docs page says only what is served
    page = any_app.test_client().get("/docs").get_data(as_text=True)
    assert ("admin API under /_mock" in page) is admin


def test_both_api_versions_and_the_webhook_are_described(any_app):
    document = document_of(any_app.test_client())
    for version in ("v1", "v2"):
        operation = document["paths"][f"/audio/generic/api/{version}/async/diarization/identify"]["post"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"webhook", "request_id"} <= names
        assert "{$request.query.webhook}" in operation["callbacks"]["identifyResult"]
        for status in ("400", "401", "413", "429"):
            assert status in operation["responses"]
    assert "identifyResult" in document["webhooks"]
    schemes = document["components"]["securitySchemes"]
    assert {(s["in"], s["name"]) for s in schemes.values()} == {("query", "apikey"), ("header", "apikey")}


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.external: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and re.match(r"^(https?:)?//", value):
                self.external.append(value)

    def handle_data(self, data):
        self.text.append(data)


def test_docs_page_lists_every_operation_without_external_assets(any_app):
    client = any_app.test_client()
    document = document_of(client)
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = _Page()
    page.feed(response.get_data(as_text=True))
    text = " ".join(page.text)
    for path, method in document_operations(document):
        assert path in text and method in text
    assert "speakerIds" in text and "missing_api_key" in text  # a body field and an error example are shown
    assert page.external == [] and "script" not in page.tags


# --- real responses against the document ----------------------------------------------------------------------

class Responses:
    """Checks answers of the running app against the response schema the document gives them."""

    def __init__(self, document: dict):
        self.document = document
        self.seen: set[tuple[str, str, str]] = set()

    def check(self, response, path: str, method: str, *, status: int) -> dict:
        assert response.status_code == status, response.get_data(as_text=True)[:500]
        declared = self.document["paths"][path][method.lower()]["responses"]
        key = str(status) if str(status) in declared else f"{str(status)[0]}XX"  # OpenAPI's ranges: "5XX"
        assert key in declared, f"{method} {path} answered {status}, which the document does not list"
        spec = declared[key]
        if "$ref" in spec:
            spec = self.document["components"]["responses"][spec["$ref"].rsplit("/", 1)[1]]
        schema = spec["content"]["application/json"]["schema"]
        body = response.get_json()
        self.validate(body, schema)
        self.seen.add((path, method.upper(), str(status)))
        return body

    def validate(self, instance, schema: dict) -> None:
        # The document's own "#/components/..." pointers resolve against a root holding the components.
        root = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "components": self.document["components"], **schema}
        errors = sorted(Draft202012Validator(root).iter_errors(instance), key=str)
        assert not errors, f"{instance!r} breaks its schema: {errors[0].message}"


V2 = "/audio/generic/api/v2/sync/diarization"
V1 = "/audio/generic/api/v1/sync/diarization"


def test_public_answers_match_their_schemas(enrolled_api, voices):
    client = enrolled_api.client
    docs = Responses(document_of(client))
    key = "?apikey=test-key"

    body = docs.check(client.post(f"{V2}/identify{key}", json={"content": b64("alice_short.flac"),
                                                              "encoding": "FLAC", "speakerIds": ["alice", "bob"]}),
                      f"{V2}/identify", "POST", status=200)
    assert body["segments"] and {s["speaker_id"] for s in body["segments"]} <= {"alice", "bob", UNKNOWN}
    docs.check(client.post(f"{V1}/enroll{key}", json={"content": b64("speakers/dave/enroll1.wav"),
                                                      "speakerId": "erin"}), f"{V1}/enroll", "POST", status=200)
    body = docs.check(client.get(f"{V1}/get_enrolled_speakers{key}&getAllSpeakers=True"),
                      f"{V1}/get_enrolled_speakers", "GET", status=200)
    erin = [s for s in body["enrolled_speaker_ids"] if s["speaker_id"] == "erin"]
    assert erin and erin[0]["enrollment_complete"] is False
    status = docs.check(client.get(f"{V2}/enroll{key}&speakerId=erin"), f"{V2}/enroll", "GET", status=200)
    assert status == erin[0]
    docs.check(client.post(f"{V2}/delete{key}", json={"speakerId": "erin"}), f"{V2}/delete", "POST", status=200)

    docs.check(client.post(f"{V2}/delete{key}", json={"speakerId": "erin"}), f"{V2}/delete", "POST", status=404)
    docs.check(client.get(f"{V2}/get_enrolled_speakers"), f"{V2}/get_enrolled_speakers", "GET", status=401)
    docs.check(client.post(f"{V2}/identify{key}", data="not json"), f"{V2}/identify", "POST", status=400)
    body = docs.check(client.post(f"{V1}/identify{key}", json={"content": b64("alice_short.flac"),
                                                               "speakerIds": ["nobody"]}),
                      f"{V1}/identify", "POST", status=400)
    assert body["fault"]["detail"]["code"] == "unknown_speakers"
    docs.check(client.get("/health"), "/health", "GET", status=200)


@pytest.mark.parametrize("fault", [{"preset": "api_error"}, {"status": 503, "code": "service_unavailable"}])
def test_the_vendors_50x_is_documented_on_every_public_operation(app, fault):
    # vendor-docs-2020.md, "Errors": 50X internal error; the mock answers it through /_mock/faults (the api_error
    # preset, or any 5xx a test arms), so a client generated from /openapi.json must know the status and its body
    client = app.test_client()
    docs = Responses(document_of(client))
    calls = [("POST", f"{V2}/enroll", {"speakerId": "a"}), ("GET", f"{V2}/enroll", None),
             ("POST", f"{V1}/delete", {"speakerId": "a"}), ("GET", f"{V1}/get_enrolled_speakers", None),
             ("POST", f"{V2}/identify", {"speakerIds": ["a"]}),
             ("POST", "/audio/generic/api/v1/async/diarization/identify", {"speakerIds": ["a"]})]
    for method, path, body in calls:
        armed = client.post("/_mock/faults", json={**fault, "match": {"apikey": "k"}, "times": 1})
        assert armed.status_code == 200, armed.get_json()
        query = {"apikey": "k", "speakerId": "a"} if method == "GET" else {"apikey": "k"}
        response = client.open(path, method=method, query_string=query, json=body)
        status = 500 if "preset" in fault else 503
        assert docs.check(response, path, method, status=status)["fault"]["detail"]["code"] == (
            "internal_error" if "preset" in fault else "service_unavailable")


def test_oversized_body_answers_the_documented_413(tmp_path, make_app):
    app = make_app(ServerConfig(data_dir=tmp_path / "data", max_body_bytes=1024), start_workers=False)
    client = app.test_client()
    docs = Responses(document_of(client))
    response = client.post(f"{V2}/enroll?apikey=k", json={"speakerId": "a", "content": "A" * 4096})
    assert docs.check(response, f"{V2}/enroll", "POST", status=413)["fault"]["detail"]["code"] == "payload_too_large"


def test_async_answer_and_webhook_payload_match_their_schemas(enrolled_api):
    client = enrolled_api.client
    docs = Responses(document_of(client))
    path = "/audio/generic/api/v2/async/diarization/identify"
    with WebhookReceiver() as receiver:
        response = client.post(f"{path}?apikey=test-key&webhook={receiver.url}/hook&request_id=doc-1",
                               json={"content": b64("alice_short.flac"), "speakerIds": ["alice", "carol"]})
        assert docs.check(response, path, "POST", status=202) == {"request_id": "doc-1",
                                                                   "api": "diarization/identify"}
        delivery = receiver.wait_for("doc-1", timeout=60)
    webhook = docs.document["webhooks"]["identifyResult"]["post"]["requestBody"]["content"]["application/json"]
    docs.validate(delivery.body, webhook["schema"])
    assert delivery.body["response"]["segments"]
    docs.check(client.post(f"{path}?apikey=test-key", json={"content": "", "speakerIds": ["alice"]}),
               path, "POST", status=400)

    journal = docs.check(client.get("/_mock/requests?limit=10"), "/_mock/requests", "GET", status=200)
    assert journal["requests"][0]["path"] == path
    def settled_jobs():  # the store records the delivery just after the receiver answered
        jobs = docs.check(client.get("/_mock/jobs/doc-1"), "/_mock/jobs/{request_id}", "GET", status=200)
        return jobs if jobs["jobs"][0]["webhook_status"] != "pending" else None

    jobs = wait_until(settled_jobs, timeout=30, message="job doc-1's webhook still pending")
    assert jobs["jobs"][0]["webhook_status"] == "delivered"
    hooks = docs.check(client.get("/_mock/webhooks"), "/_mock/webhooks", "GET", status=200)
    assert hooks["webhooks"][0]["request_id"] == "doc-1" and hooks["webhooks"][0]["status"] == 200


def test_admin_answers_match_their_schemas(app):
    client = app.test_client()
    docs = Responses(document_of(client))
    fault = docs.check(client.post("/_mock/faults", json={"match": {"path": "identify"}, "status": 503}),
                       "/_mock/faults", "POST", status=200)["fault"]
    docs.check(client.get("/_mock/faults"), "/_mock/faults", "GET", status=200)
    docs.check(client.delete(f"/_mock/faults/{fault['id']}"), "/_mock/faults/{fault_id}", "DELETE", status=200)
    docs.check(client.delete(f"/_mock/faults/{fault['id']}"), "/_mock/faults/{fault_id}", "DELETE", status=404)
    docs.check(client.delete("/_mock/faults"), "/_mock/faults", "DELETE", status=200)
    docs.check(client.post("/_mock/faults", json={"target": "moon"}), "/_mock/faults", "POST", status=400)

    stub = docs.check(client.post("/_mock/stubs", json={"match": {"speakerIds": ["alice"]},
                                                        "response": {"segments": [{"speaker_id": "alice",
                                                                                   "start": 0, "end": 1.5}]}}),
                      "/_mock/stubs", "POST", status=200)["stub"]
    docs.check(client.get("/_mock/stubs"), "/_mock/stubs", "GET", status=200)
    docs.check(client.delete(f"/_mock/stubs/{stub['id']}"), "/_mock/stubs/{stub_id}", "DELETE", status=200)
    docs.check(client.delete("/_mock/stubs"), "/_mock/stubs", "DELETE", status=200)

    docs.check(client.post("/_mock/seed", json={"seed": 7}), "/_mock/seed", "POST", status=200)
    docs.check(client.post("/_mock/seed", json={}), "/_mock/seed", "POST", status=400)
    docs.check(client.get("/_mock/requests?limit=0"), "/_mock/requests", "GET", status=400)
    docs.check(client.get("/_mock/jobs/nothing-here"), "/_mock/jobs/{request_id}", "GET", status=404)
    assert docs.check(client.post("/_mock/reset", json={"apikey": "k"}), "/_mock/reset", "POST",
                      status=200) == {"reset": "key"}
    assert docs.check(client.post("/_mock/reset"), "/_mock/reset", "POST", status=200) == {"reset": "all"}
    remote = client.get("/_mock/ui", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert remote.status_code == 403
    docs.check(client.get("/_mock/faults", environ_base={"REMOTE_ADDR": "192.0.2.7"}), "/_mock/faults", "GET",
               status=403)


# getAllSpeakers values: the documented spellings, and blanks, spaces and near misses a client might send.
GET_ALL_SPEAKERS = ["True", "true", "TRUE", "tRuE", "1", "False", "false", "FALSE", "0", "", " ", " true ", "true ",
                    "\ttrue", "\nTrue", "true\n", "yes", "on", "2", "01", "truee", "０", "ｔrue", "true\x00"]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_get_all_speakers_is_taken_exactly_when_the_published_pattern_matches(client, version):
    """The handler takes what /openapi.json's pattern admits (a 200) and refuses the rest (a 400 naming the
    spellings it takes): the document and the handler are one source."""
    path = f"/audio/generic/api/{version}/sync/diarization/get_enrolled_speakers"
    parameter = document_of(client)["paths"][path]["get"]["parameters"][0]
    assert parameter["name"] == "getAllSpeakers"
    pattern = re.compile(parameter["schema"]["pattern"])
    for value in GET_ALL_SPEAKERS:
        response = client.get(path, query_string={"apikey": "k", "getAllSpeakers": value})
        documented = pattern.fullmatch(value) is not None  # ECMA-262: no "$" before a final newline
        assert response.status_code == (200 if documented else 400), (value, response.get_json())
        if not documented:
            detail = response.get_json()["fault"]["detail"]
            assert detail["code"] == "invalid_parameter" and "must be True or False" in detail["message"]
            assert "true/false or 1/0, in any case" in detail["message"]
    assert sum(pattern.fullmatch(v) is not None for v in GET_ALL_SPEAKERS) == 9  # the list's documented spellings
