"""Every endpoint: method, path, query, headers and body on the wire, and the parsed result."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from airflow_provider_browserbase import __version__
from airflow_provider_browserbase.models import (
    Context,
    CreatedContext,
    Extension,
    Project,
    ProjectUsage,
    Session,
    SessionDetails,
    SessionLiveURLs,
    SessionLog,
    SessionRecordingEvent,
    UploadResult,
)
from tests.hooks.hook_helpers import API_KEY, PROJECT_ID, ScriptedApi, created_json, session_json

if TYPE_CHECKING:
    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook


def _zip(**files: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@dataclass
class Endpoint:
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    method: str
    path: str
    response: httpx.Response
    result_type: type | None
    params: dict[str, str] | None = None
    body: Any = None
    accept: str = "application/json"

    def __str__(self) -> str:
        return self.name


ENDPOINTS = [
    Endpoint(
        "get_session",
        ("s-1",),
        {},
        "GET",
        "/v1/sessions/s-1",
        httpx.Response(200, json=created_json()),
        SessionDetails,
    ),
    Endpoint(
        "list_sessions",
        (),
        {"status": "RUNNING", "metadata": {"airflow": {"dag_id": "etl"}}},
        "GET",
        "/v1/sessions",
        httpx.Response(200, json=[session_json()]),
        list,
        params={"status": "RUNNING", "q": "user_metadata['airflow']['dag_id']:'etl'"},
    ),
    Endpoint(
        "list_sessions",
        (),
        {"q": "user_metadata['k']:'v'"},
        "GET",
        "/v1/sessions",
        httpx.Response(200, json=[]),
        list,
        params={"q": "user_metadata['k']:'v'"},
    ),
    Endpoint(
        "end_session",
        ("s-1",),
        {},
        "POST",
        "/v1/sessions/s-1",
        httpx.Response(200, json=session_json()),
        Session,
        body={"status": "REQUEST_RELEASE", "projectId": PROJECT_ID},
    ),
    Endpoint(
        "get_live_urls",
        ("s-1",),
        {"expires_in": 600},
        "GET",
        "/v1/sessions/s-1/debug",
        httpx.Response(
            200,
            json={
                "debuggerFullscreenUrl": "http://x/f",
                "debuggerUrl": "http://x/d",
                "wsUrl": "ws://x",
                "pages": [{"id": "p1", "url": "https://e.com"}],
            },
        ),
        SessionLiveURLs,
        params={"expiresIn": "600"},
    ),
    Endpoint(
        "get_session_logs",
        ("s-1",),
        {},
        "GET",
        "/v1/sessions/s-1/logs",
        httpx.Response(200, json=[{"method": "Page.navigate", "pageId": 0}]),
        list,
    ),
    Endpoint(
        "get_session_recording",
        ("s-1",),
        {},
        "GET",
        "/v1/sessions/s-1/recording",
        httpx.Response(200, json=[{"type": 2, "timestamp": 1}]),
        list,
    ),
    Endpoint(
        "get_downloads_zip",
        ("s-1",),
        {},
        "GET",
        "/v1/sessions/s-1/downloads",
        httpx.Response(200, content=_zip(**{"a.txt": b"a"})),
        bytes,
        accept="application/zip",
    ),
    Endpoint(
        "create_context",
        (),
        {"name": "login"},
        "POST",
        "/v1/contexts",
        httpx.Response(
            201,
            json={
                "id": "c-1",
                "uploadUrl": "u",
                "publicKey": "k",
                "cipherAlgorithm": "AES-256-CBC",
                "initializationVectorSize": 16,
            },
        ),
        CreatedContext,
        body={"name": "login", "projectId": PROJECT_ID},
    ),
    Endpoint(
        "get_context",
        ("c-1",),
        {},
        "GET",
        "/v1/contexts/c-1",
        httpx.Response(200, json={"id": "c-1", "projectId": PROJECT_ID}),
        Context,
    ),
    Endpoint(
        "delete_context",
        ("c-1",),
        {},
        "DELETE",
        "/v1/contexts/c-1",
        httpx.Response(204),
        type(None),
        accept="*/*",
    ),
    Endpoint(
        "get_extension",
        ("e-1",),
        {},
        "GET",
        "/v1/extensions/e-1",
        httpx.Response(200, json={"id": "e-1", "fileName": "x.zip"}),
        Extension,
    ),
    Endpoint(
        "delete_extension",
        ("e-1",),
        {},
        "DELETE",
        "/v1/extensions/e-1",
        httpx.Response(204),
        type(None),
        accept="*/*",
    ),
    Endpoint(
        "list_projects",
        (),
        {},
        "GET",
        "/v1/projects",
        httpx.Response(200, json=[{"id": PROJECT_ID, "name": "P", "concurrency": 3}]),
        list,
    ),
    Endpoint(
        "get_project",
        (),
        {},
        "GET",
        f"/v1/projects/{PROJECT_ID}",
        httpx.Response(200, json={"id": PROJECT_ID, "name": "P"}),
        Project,
    ),
    Endpoint(
        "get_project",
        ("other",),
        {},
        "GET",
        "/v1/projects/other",
        httpx.Response(200, json={"id": "other"}),
        Project,
    ),
    Endpoint(
        "get_project_usage",
        (),
        {},
        "GET",
        f"/v1/projects/{PROJECT_ID}/usage",
        httpx.Response(200, json={"browserMinutes": 7, "proxyBytes": 9}),
        ProjectUsage,
    ),
]

ITEM_TYPES = {
    "list_sessions": Session,
    "get_session_logs": SessionLog,
    "get_session_recording": SessionRecordingEvent,
    "list_projects": Project,
}


def _check_request(api: ScriptedApi, case: Endpoint) -> None:
    assert len(api.requests) == 1
    request = api.requests[0]
    assert request.method == case.method
    assert request.url.path == case.path
    assert dict(request.url.params) == (case.params or {})
    assert request.headers["X-BB-API-Key"] == API_KEY
    assert request.headers["Accept"] == case.accept
    assert request.headers["User-Agent"] == f"airflow-provider-browserbase/{__version__}"
    if case.body is None:
        assert request.content == b""
    else:
        assert request.headers["Content-Type"] == "application/json"
        assert json.loads(request.content) == case.body


def _check_result(case: Endpoint, result: Any) -> None:
    assert isinstance(result, case.result_type)
    if case.name in ITEM_TYPES:
        assert all(isinstance(item, ITEM_TYPES[case.name]) for item in result)
    if isinstance(result, bytes):
        assert result == case.response.content


@pytest.mark.parametrize("case", ENDPOINTS, ids=str)
def test_endpoint_sync(case: Endpoint, api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on(case.method, case.path, case.response)
    result = getattr(hook, case.name)(*case.args, **case.kwargs)
    _check_request(api, case)
    _check_result(case, result)


@pytest.mark.parametrize("case", ENDPOINTS, ids=str)
async def test_endpoint_async(case: Endpoint, api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on(case.method, case.path, case.response)
    result = await getattr(hook, f"a{case.name}")(*case.args, **case.kwargs)
    await hook.aclose()
    _check_request(api, case)
    _check_result(case, result)


def test_create_session_request(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", "/v1/sessions", httpx.Response(201, json=created_json()))
    created = hook.create_session(
        session_timeout=300,
        keepAlive=True,
        browser_settings={"context": {"id": "c-1", "persist": True}, "block_ads": True},
        user_metadata={"airflow": {"dag_id": "etl"}, "team": "data"},
    )
    (request,) = api.requests
    body = json.loads(request.content)
    nonce = body["userMetadata"]["airflow"].pop("nonce")
    assert len(nonce) == 32
    assert body == {
        "projectId": PROJECT_ID,
        "timeout": 300,
        "keepAlive": True,
        "browserSettings": {"context": {"id": "c-1", "persist": True}, "blockAds": True},
        "userMetadata": {"airflow": {"dag_id": "etl"}, "team": "data"},
    }
    assert request.headers["X-BB-API-Key"] == API_KEY
    assert created.id == "s-1"
    assert created.connect_url == "ws://bb.test/?signingKey=sk-s-1-SIGNING"


def test_explicit_project_wins(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", "/v1/sessions", httpx.Response(201, json=created_json()))
    hook.create_session(project_id="other")
    assert json.loads(api.requests[0].content)["projectId"] == "other"


def test_first_project_when_connection_names_none(
    api: ScriptedApi, hook: BrowserbaseHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.hooks.hook_helpers import connection_json

    monkeypatch.setenv("AIRFLOW_CONN_BROWSERBASE_DEFAULT", connection_json())
    api.on("GET", "/v1/projects", httpx.Response(200, json=[{"id": "first"}, {"id": "second"}]))
    api.on(
        "GET", "/v1/projects/first/usage", httpx.Response(200, json={"browserMinutes": 1, "proxyBytes": 0})
    )
    assert hook.get_project_usage().browser_minutes == 1
    assert [r.url.path for r in api.requests] == ["/v1/projects", "/v1/projects/first/usage"]


def test_ids_are_percent_encoded(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("GET", "/v1/sessions/a%2Fb%3Fc", httpx.Response(200, json=session_json("a/b?c")))
    assert hook.get_session("a/b?c").id == "a/b?c"
    assert api.requests[0].url.raw_path == b"/v1/sessions/a%2Fb%3Fc"


@pytest.mark.parametrize(
    "call",
    [
        lambda h: h.get_session(""),
        lambda h: h.end_session("  "),
        lambda h: h.get_live_urls(""),
        lambda h: h.get_downloads_zip(""),
        lambda h: h.upload_file("", b"x", "f.txt"),
        lambda h: h.get_context(""),
        lambda h: h.delete_extension(""),
        lambda h: h.list_sessions(status="running"),
        lambda h: h.list_sessions(metadata={"a": "b"}, q="user_metadata['a']:'b'"),
        lambda h: h.create_session(timeout=30_000),
        lambda h: h.create_session(region=""),
        lambda h: h.create_context(name=""),
        lambda h: h.upload_file("s-1", b"bytes without a name"),
    ],
)
def test_bad_input_fails_before_any_request(call: Any, api: ScriptedApi, hook: BrowserbaseHook) -> None:
    from airflow_provider_browserbase.exceptions import BrowserbaseValidationError

    with pytest.raises(BrowserbaseValidationError):
        call(hook)
    assert api.requests == []


@pytest.mark.parametrize("as_path", [True, False])
def test_upload_file_multipart(as_path: bool, api: ScriptedApi, hook: BrowserbaseHook, tmp_path: Any) -> None:
    api.on("POST", "/v1/sessions/s-1/uploads", httpx.Response(200, json={"message": "File uploaded"}))
    source = tmp_path / "report.csv"
    source.write_bytes(b"a,b\n1,2\n")
    result = hook.upload_file(
        "s-1", source if as_path else source.read_bytes(), None if as_path else "report.csv"
    )
    assert result == UploadResult(message="File uploaded")
    (request,) = api.requests
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    body = request.content
    assert b'Content-Disposition: form-data; name="file"; filename="report.csv"' in body
    assert b"a,b\n1,2\n" in body
    assert body.count(b"Content-Disposition") == 1


def test_upload_extension_multipart(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", "/v1/extensions", httpx.Response(200, json={"id": "e-1", "fileName": "ext.zip"}))
    extension = hook.upload_extension(_zip(**{"manifest.json": b"{}"}), "ext.zip")
    assert extension.id == "e-1"
    body = api.requests[0].content
    assert b'name="file"; filename="ext.zip"' in body
    assert b"Content-Type: application/zip" in body
