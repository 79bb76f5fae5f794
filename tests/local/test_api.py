"""The REST contract: shapes, status codes, filters and every kind of bad request (API-only sessions)."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import TYPE_CHECKING, Any

import pytest
from local_helpers import client, start_server

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx

    from airflow_provider_browserbase.local.server import LocalServer

SESSION_FIELDS = {
    "id", "createdAt", "updatedAt", "expiresAt", "startedAt", "endedAt", "keepAlive", "projectId",
    "proxyBytes", "region", "status", "contextId", "userMetadata",
}  # fmt: skip
CONNECT_FIELDS = {"connectUrl", "seleniumRemoteUrl", "signingKey"}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    running = start_server(max_sessions=50, no_browser=True)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def api(server: LocalServer) -> Iterator[httpx.Client]:
    with client(server) as http:
        yield http


def release(api: httpx.Client, session_id: str) -> None:
    api.post(f"/v1/sessions/{session_id}", json={"status": "REQUEST_RELEASE"})


def test_create_retrieve_list_update_shapes(api: httpx.Client, server: LocalServer) -> None:
    created = api.post(
        "/v1/sessions",
        json={"keepAlive": True, "region": "eu-central-1", "timeout": 900, "userMetadata": {"team": "data"}},
    )
    assert created.status_code == 201
    body = created.json()
    assert body.keys() >= SESSION_FIELDS | CONNECT_FIELDS
    assert body["status"] == "RUNNING"
    assert body["region"] == "eu-central-1"
    assert body["userMetadata"] == {"team": "data"}
    assert body["connectUrl"] == f"ws://127.0.0.1:{server.config.port}/?signingKey={body['signingKey']}"
    assert body["seleniumRemoteUrl"] == f"{server.base_url}/webdriver"

    retrieved = api.get(f"/v1/sessions/{body['id']}").json()
    assert retrieved.keys() >= SESSION_FIELDS | CONNECT_FIELDS
    listed = api.get("/v1/sessions").json()
    assert body["id"] in [s["id"] for s in listed]
    assert listed[0].keys() >= SESSION_FIELDS

    updated = api.post(f"/v1/sessions/{body['id']}", json={"status": "REQUEST_RELEASE", "projectId": "x"})
    assert updated.status_code == 200
    assert updated.json()["status"] == "COMPLETED"
    assert updated.json().keys() >= SESSION_FIELDS


def test_unknown_fields_are_accepted_and_ignored(api: httpx.Client) -> None:
    created = api.post(
        "/v1/sessions",
        json={"fingerprint": {"browsers": ["chrome"]}, "browserSettings": {"futureFlag": 1}, "newThing": 2},
    )
    assert created.status_code == 201, created.text
    release(api, created.json()["id"])


def test_list_filters_by_status_and_metadata_query(api: httpx.Client) -> None:
    tag = {"airflow": {"dag_id": "etl", "nonce": "n-123"}}
    wanted = api.post("/v1/sessions", json={"userMetadata": tag}).json()
    other = api.post(
        "/v1/sessions", json={"userMetadata": {"airflow": {"dag_id": "etl", "nonce": "n-9"}}}
    ).json()
    release(api, other["id"])

    found = api.get("/v1/sessions", params={"q": "user_metadata['airflow']['nonce']:'n-123'"}).json()
    assert [s["id"] for s in found] == [wanted["id"]]
    both = api.get("/v1/sessions", params={"q": "user_metadata['airflow']['dag_id']:'etl'"}).json()
    assert {s["id"] for s in both} == {wanted["id"], other["id"]}
    conjunction = "user_metadata['airflow']['dag_id']:'etl' AND user_metadata['airflow']['nonce']:'n-9'"
    assert [s["id"] for s in api.get("/v1/sessions", params={"q": conjunction}).json()] == [other["id"]]

    running = api.get(
        "/v1/sessions", params={"status": "RUNNING", "q": "user_metadata['airflow']['dag_id']:'etl'"}
    )
    assert [s["id"] for s in running.json()] == [wanted["id"]]
    completed = api.get("/v1/sessions", params={"status": "COMPLETED"}).json()
    assert other["id"] in [s["id"] for s in completed]
    assert all(s["status"] == "COMPLETED" for s in completed)
    release(api, wanted["id"])


def test_usage_counts_browser_minutes_with_one_minute_minimum(server: LocalServer) -> None:
    running = start_server(no_browser=True)
    try:
        with client(running) as api:
            project = api.get("/v1/projects").json()[0]
            assert api.get(f"/v1/projects/{project['id']}/usage").json() == {
                "browserMinutes": 0,
                "proxyBytes": 0,
            }
            for _ in range(2):
                release(api, api.post("/v1/sessions", json={}).json()["id"])
            usage = api.get(f"/v1/projects/{project['id']}/usage").json()
            assert usage == {"browserMinutes": 2, "proxyBytes": 0}
    finally:
        running.stop()


def test_projects(api: httpx.Client, server: LocalServer) -> None:
    projects = api.get("/v1/projects").json()
    assert len(projects) == 1
    project = projects[0]
    assert {
        "id",
        "name",
        "ownerId",
        "defaultTimeout",
        "concurrency",
        "createdAt",
        "updatedAt",
    } <= project.keys()
    assert project["concurrency"] == 50
    assert api.get(f"/v1/projects/{project['id']}").json() == project
    assert api.get("/v1/projects/00000000-0000-0000-0000-000000000000").status_code == 404


def test_context_crud_and_name_uniqueness(api: httpx.Client) -> None:
    created = api.post("/v1/contexts", json={"name": "  Shop Login "})
    assert created.status_code == 201
    body = created.json()
    assert {"id", "uploadUrl", "publicKey", "cipherAlgorithm", "initializationVectorSize"} <= body.keys()
    duplicate = api.post("/v1/contexts", json={"name": "shop login"})
    assert duplicate.status_code == 409
    assert "shop login" in duplicate.json()["message"]

    context = api.get(f"/v1/contexts/{body['id']}").json()
    assert context["name"] == "Shop Login"
    assert {"id", "createdAt", "updatedAt", "projectId"} <= context.keys()
    assert api.put(f"/v1/contexts/{body['id']}").status_code == 200
    deleted = api.delete(f"/v1/contexts/{body['id']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert api.get(f"/v1/contexts/{body['id']}").status_code == 404
    assert api.post("/v1/contexts", json={"name": "shop login"}).status_code == 201  # freed
    assert api.post("/v1/contexts").status_code == 201  # no body at all


def test_downloads_recording_logs_and_stubs(api: httpx.Client) -> None:
    session_id = api.post("/v1/sessions", json={}).json()["id"]
    downloads = api.get(f"/v1/sessions/{session_id}/downloads", headers={"Accept": "application/zip"})
    assert downloads.headers["content-type"] == "application/zip"
    assert len(downloads.content) == 22
    assert zipfile.ZipFile(io.BytesIO(downloads.content)).testzip() is None
    assert api.get(f"/v1/sessions/{session_id}/recording").json() == []
    assert api.get(f"/v1/sessions/{session_id}/logs").json() == []
    assert api.get(f"/v1/sessions/{session_id}/replays").json() == {"pageCount": 0, "pages": []}
    assert api.post(f"/v1/sessions/{session_id}/recording/downloads").json() == {"downloads": []}
    live = api.get(f"/v1/sessions/{session_id}/debug").json()
    assert live["pages"] == []
    release(api, session_id)
    assert api.get(f"/v1/sessions/{session_id}/debug").status_code == 410


def test_health_and_openapi_need_no_key(server: LocalServer) -> None:
    import httpx

    assert httpx.get(f"{server.base_url}/health").json()["status"] == "ok"
    schema = httpx.get(f"{server.base_url}/openapi.json").json()
    create = schema["paths"]["/v1/sessions"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    wire_names = {"timeout", "keepAlive", "browserSettings", "userMetadata", "proxies", "region"}
    assert set(body["properties"]) >= wire_names
    assert "$ref" not in json.dumps(create)  # self-contained, so fuzzers can generate bodies from it
    upload = schema["paths"]["/v1/sessions/{session_id}/uploads"]["post"]["requestBody"]
    assert "multipart/form-data" in upload["content"]


def test_official_sdk_works_against_the_server(server: LocalServer) -> None:
    browserbase = pytest.importorskip("browserbase", reason="the official SDK is a bench extra")
    sdk = browserbase.Browserbase(api_key=server.api_key, base_url=server.base_url, max_retries=0)
    session = sdk.sessions.create(api_timeout=120, user_metadata={"via": "sdk"})
    assert session.status == "RUNNING"
    assert session.connect_url.startswith("ws://")
    assert session.expires_at - session.started_at == dt.timedelta(seconds=120)
    assert sdk.sessions.retrieve(session.id).user_metadata == {"via": "sdk"}
    assert sdk.sessions.update(session.id, status="REQUEST_RELEASE").status == "COMPLETED"
    with pytest.raises(browserbase.BadRequestError, match="timeout"):
        sdk.sessions.create(api_timeout=3_600_000)


BAD_SESSION_BODIES: list[tuple[str, Any, str]] = [
    ("malformed json", b'{"timeout": ', "not valid JSON"),
    ("not an object", b"[1, 2]", "must be object"),
    ("a string", b'"hello"', "must be object"),
    ("timeout too long", {"timeout": 21601}, "body/timeout"),
    ("timeout in ms", {"timeout": 3_600_000}, "body/timeout"),
    ("timeout too short", {"timeout": 59}, "body/timeout"),
    ("timeout a word", {"timeout": "soon"}, "body/timeout"),
    ("timeout fractional", {"timeout": 60.5}, "body/timeout"),
    ("empty region", {"region": ""}, "body/region"),
    ("metadata too long", {"userMetadata": {"k": "x" * 600}}, "body/userMetadata"),
    ("metadata with array", {"userMetadata": {"k": [1]}}, "body/userMetadata"),
    ("metadata not object", {"userMetadata": "tag"}, "body/userMetadata"),
    ("proxies object", {"proxies": {"type": "browserbase"}}, "body/proxies"),
    ("proxies bad type", {"proxies": [{"type": "socks"}]}, "body/proxies"),
    ("proxies string", {"proxies": "yes"}, "body/proxies"),
    ("external proxy without server", {"proxies": [{"type": "external"}]}, "server"),
    ("keepAlive a word", {"keepAlive": "maybe"}, "body/keepAlive"),
    ("context without id", {"browserSettings": {"context": {"persist": True}}}, "context"),
    ("settings not object", {"browserSettings": 5}, "body/browserSettings"),
    ("viewport negative", {"browserSettings": {"viewport": {"width": -1}}}, "viewport"),
]


@pytest.mark.parametrize(("body", "fragment"), [(b, f) for _, b, f in BAD_SESSION_BODIES],
                         ids=[i for i, _, _ in BAD_SESSION_BODIES])  # fmt: skip
def test_bad_session_bodies_get_400_naming_the_problem(api: httpx.Client, body: Any, fragment: str) -> None:
    if isinstance(body, bytes):
        response = api.post("/v1/sessions", content=body, headers={"Content-Type": "application/json"})
    else:
        response = api.post("/v1/sessions", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["statusCode"] == 400
    assert error["error"] == "Bad Request"
    assert fragment in error["message"]
    assert api.get("/health").status_code == 200


def _zip(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_other_bad_requests_get_4xx_with_a_message(api: httpx.Client, server: LocalServer) -> None:
    live = api.post("/v1/sessions", json={}).json()["id"]
    unknown = "00000000-0000-0000-0000-000000000000"
    manifest = json.dumps({"manifest_version": 3, "name": "x", "version": "1"})
    cases: list[tuple[int, httpx.Response]] = [
        (401, client(server).get("/v1/sessions", headers={"X-BB-API-Key": "wrong"})),
        (401, client(server).get("/v1/sessions", headers={"X-BB-API-Key": ""})),
        (404, api.get(f"/v1/sessions/{unknown}")),
        (404, api.post(f"/v1/sessions/{unknown}", json={"status": "REQUEST_RELEASE"})),
        (404, api.get(f"/v1/sessions/{unknown}/downloads")),
        (404, api.get(f"/v1/sessions/{unknown}/logs")),
        (404, api.get(f"/v1/sessions/{unknown}/debug")),
        (404, api.post(f"/v1/sessions/{unknown}/uploads", files={"file": ("a.txt", b"a")})),
        (404, api.get(f"/v1/contexts/{unknown}")),
        (404, api.delete(f"/v1/contexts/{unknown}")),
        (404, api.get(f"/v1/extensions/{unknown}")),
        (404, api.delete(f"/v1/extensions/{unknown}")),
        (404, api.post("/v1/sessions", json={"browserSettings": {"context": {"id": unknown}}})),
        (404, api.post("/v1/sessions", json={"extensionId": unknown})),
        (404, api.get("/v1/nothing-here")),
        (405, api.delete(f"/v1/sessions/{live}")),
        (400, api.post(f"/v1/sessions/{live}", json={"status": "STOP"})),
        (400, api.post(f"/v1/sessions/{live}", json={})),
        (400, api.post(f"/v1/sessions/{live}")),
        (400, api.post(f"/v1/sessions/{live}", content=b"{oops")),
        (400, api.get("/v1/sessions", params={"status": "DONE"})),
        (400, api.get("/v1/sessions", params={"q": "metadata.team = 'x'"})),
        (400, api.get("/v1/sessions", params={"q": "user_metadata['a']:'b' OR user_metadata['c']:'d'"})),
        (400, api.get(f"/v1/sessions/{live}/debug", params={"expiresIn": "-5"})),
        (400, api.get(f"/v1/sessions/{live}/debug", params={"expiresIn": "soon"})),
        (415, api.post(f"/v1/sessions/{live}/uploads", json={"file": "x"})),
        (400, api.post(f"/v1/sessions/{live}/uploads", files={"other": ("a.txt", b"a")})),
        (415, api.post(f"/v1/sessions/{live}/uploads", data={"file": "form-urlencoded"})),
        (
            400,
            api.post(
                f"/v1/sessions/{live}/uploads", data={"file": "a text field"}, files={"x": ("a.txt", b"a")}
            ),
        ),
        (
            400,
            api.post(
                f"/v1/sessions/{live}/uploads",
                content=b'--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\nunterminated',
                headers={"Content-Type": "multipart/form-data; boundary=xyz"},
            ),
        ),
        (400, api.post("/v1/extensions", files={"file": ("x.zip", b"not a zip")})),
        (400, api.post("/v1/extensions", files={"file": ("x.zip", _zip({"readme.txt": "hi"}))})),
        (400, api.post("/v1/extensions", files={"file": ("x.zip", _zip({"manifest.json": "{nope"}))})),
        (400, api.post("/v1/extensions", files={"file": ("x.zip", _zip({"manifest.json": '{"name": 1}'}))})),
        (
            400,
            api.post(
                "/v1/extensions", files={"file": ("x.zip", _zip({"manifest.json": manifest, "../x": ""}))}
            ),
        ),
        (415, api.post("/v1/extensions", content=b"raw bytes")),
        (400, api.post("/v1/contexts", json={"name": ""})),
        (400, api.post("/v1/contexts", json={"name": 5})),
        (400, api.post("/v1/contexts", content=b"[]")),
    ]
    for expected, response in cases:
        request = f"{response.request.method} {response.request.url}"
        assert response.status_code == expected, f"{request}: {response.status_code} {response.text}"
        error = response.json()
        assert error["statusCode"] == expected, request
        assert error["message"], request
    assert api.get("/health").status_code == 200
    release(api, live)


def test_messages_never_echo_the_api_key(server: LocalServer) -> None:
    with client(server) as api:
        response = api.get("/v1/sessions", headers={"X-BB-API-Key": server.api_key + "-wrong"})
    assert response.status_code == 401
    assert server.api_key not in response.text
