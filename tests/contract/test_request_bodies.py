"""
The hook sends the same requests as Browserbase's official SDK for the same settings: method, path,
query and JSON body, captured from both with ``httpx.MockTransport`` (the hook's create nonce aside).
"""

from __future__ import annotations

import contextlib
import copy
import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from support import connection_uri_env

from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from browserbase import Browserbase

BASE_URL = "http://bb.contract"
NOW = "2026-11-28T09:00:00Z"
SESSION = {
    "id": "s-1",
    "status": "RUNNING",
    "projectId": "proj-1",
    "createdAt": NOW,
    "updatedAt": NOW,
    "startedAt": NOW,
    "expiresAt": NOW,
    "keepAlive": False,
    "proxyBytes": 0,
    "region": "us-west-2",
}
CREATED = {
    **SESSION,
    "connectUrl": "ws://x/?signingKey=k",
    "seleniumRemoteUrl": "http://x/wd",
    "signingKey": "k",
}
CONTEXT = {
    "id": "c-1",
    "uploadUrl": "u",
    "publicKey": "p",
    "cipherAlgorithm": "AES-256-CBC",
    "initializationVectorSize": 16,
}
LIVE = {"debuggerFullscreenUrl": "d", "debuggerUrl": "d", "wsUrl": "w", "pages": []}


def answer(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/v1/sessions" and request.method == "POST":
        return httpx.Response(201, json=CREATED)
    if path == "/v1/sessions":
        return httpx.Response(200, json=[SESSION])
    if path.endswith("/debug"):
        return httpx.Response(200, json=LIVE)
    if path.endswith("/uploads"):
        return httpx.Response(200, json={"message": "ok"})
    if path == "/v1/contexts":
        return httpx.Response(201, json=CONTEXT)
    return httpx.Response(200, json={**SESSION, "status": "COMPLETED"})


class Recorder:
    """A mock transport handler keeping every request it answers."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return answer(request)

    def only(self) -> dict[str, Any]:
        (request,) = self.requests
        body: Any = None
        if request.content and request.headers.get("content-type", "").startswith("application/json"):
            body = json.loads(request.content)
        return {
            "method": request.method,
            "path": request.url.raw_path.split(b"?")[0].decode(),
            "query": dict(request.url.params),
            "json": body,
        }


@pytest.fixture
def sdk_recorder() -> Iterator[tuple[Browserbase, Recorder]]:
    from browserbase import Browserbase

    recorder = Recorder()
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    with Browserbase(api_key="bb_contract", base_url=BASE_URL, http_client=http, max_retries=0) as client:
        yield client, recorder


@pytest.fixture
def hook_recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[BrowserbaseHook, Recorder]]:
    # No project in the connection: the hook would add it to bodies the SDK sends without one.
    monkeypatch.setenv("AIRFLOW_CONN_BB_BODIES", connection_uri_env(BASE_URL, "bb_contract"))
    recorder = Recorder()
    with BrowserbaseHook("bb_bodies", transport=httpx.MockTransport(recorder), max_retries=0) as hook:
        yield hook, recorder


def without_nonce(sent: dict[str, Any]) -> dict[str, Any]:
    """The hook's create body without the nonce it adds under ``userMetadata.airflow``."""
    sent = copy.deepcopy(sent)
    metadata = sent["json"]["userMetadata"]
    assert len(metadata["airflow"].pop("nonce")) == 32
    if not metadata["airflow"]:
        del metadata["airflow"]
    if not metadata:
        del sent["json"]["userMetadata"]
    return sent


EVERY_SETTING: dict[str, Any] = {
    "project_id": "proj-x",
    "browser_settings": {
        "context": {"id": "ctx-1", "persist": True},
        "viewport": {"width": 1280, "height": 800},
        "extension_id": "ext-1",
        "block_ads": True,
        "solve_captchas": False,
        "captcha_image_selector": "#captcha img",
        "captcha_input_selector": "#captcha input",
        "record_session": False,
        "log_session": True,
        "advanced_stealth": False,
        "verified": True,
        "os": "linux",
        "ignore_certificate_errors": True,
        "allowed_domains": ["example.com", "example.org"],
    },
    "extension_id": "ext-2",
    "keep_alive": True,
    "proxies": [
        {
            "type": "browserbase",
            "domain_pattern": ".*\\.example\\.com",
            "geolocation": {"country": "US", "state": "NY", "city": "New York"},
        },
        {
            "type": "external",
            "server": "http://proxy:8080",
            "username": "u",
            "password": "pw",
            "domain_pattern": "x",
        },
        {"type": "none", "domain_pattern": "localhost"},
    ],
    "proxy_settings": {"ca_certificates": ["cert-1"]},
    "region": "eu-central-1",
    "timeout": 600,
    "user_metadata": {"team": "data", "nested": {"k": "v"}, "airflow": {"dag_id": "d"}},
}

CREATE_CASES: dict[str, dict[str, Any]] = {
    "nothing": {},
    "every setting": EVERY_SETTING,
    "managed proxy": {"proxies": True},
    "no proxy": {"proxies": False, "region": "us-east-1"},
    "camelCase nested names": {"browser_settings": {"blockAds": True, "viewport": {"width": 640}}},
}


@pytest.mark.parametrize("settings", CREATE_CASES.values(), ids=CREATE_CASES.keys())
def test_create_session_body_is_the_sdks(
    settings: dict[str, Any],
    sdk_recorder: tuple[Browserbase, Recorder],
    hook_recorder: tuple[BrowserbaseHook, Recorder],
) -> None:
    client, from_sdk = sdk_recorder
    hook, from_hook = hook_recorder
    sdk_settings = dict(settings)
    if "timeout" in sdk_settings:
        sdk_settings["api_timeout"] = sdk_settings.pop("timeout")  # the SDK's name for the lifetime
    client.sessions.create(**sdk_settings)
    hook.create_session(**settings)
    assert without_nonce(from_hook.only()) == from_sdk.only()


CALLS: dict[str, tuple[Callable[[Browserbase], Any], Callable[[BrowserbaseHook], Any]]] = {
    "retrieve": (lambda c: c.sessions.retrieve("s/1"), lambda h: h.get_session("s/1")),
    "list filtered": (
        lambda c: c.sessions.list(status="RUNNING", q="user_metadata['a']:'b'"),
        lambda h: h.list_sessions(status="RUNNING", q="user_metadata['a']:'b'"),
    ),
    "list by metadata": (
        lambda c: c.sessions.list(q="user_metadata['a']['b']:'c'"),
        lambda h: h.list_sessions(metadata={"a": {"b": "c"}}),
    ),
    "release": (
        lambda c: c.sessions.update("s-1", status="REQUEST_RELEASE"),
        lambda h: h.end_session("s-1"),
    ),
    "live urls": (lambda c: c.sessions.debug("s-1", expires_in=120), lambda h: h.get_live_urls("s-1", 120)),
    "logs": (lambda c: c.sessions.logs.list("s-1"), lambda h: h.get_session_logs("s-1")),
    "create context": (
        lambda c: c.contexts.create(name="shop", project_id="proj-9"),
        lambda h: h.create_context(name="shop", project_id="proj-9"),
    ),
    "get context": (lambda c: c.contexts.retrieve("c-1"), lambda h: h.get_context("c-1")),
    "project usage": (lambda c: c.projects.usage("p-1"), lambda h: h.get_project_usage("p-1")),
    "fetch raw": (
        lambda c: c.fetch_api.create(url="https://shop.test/a", format="raw"),
        lambda h: h.fetch("https://shop.test/a"),
    ),
    "fetch every option": (
        lambda c: c.fetch_api.create(
            url="https://shop.test/a",
            format="markdown",
            allow_redirects=False,
            allow_insecure_ssl=True,
            proxies=True,
            context_id="ctx-1",
        ),
        lambda h: h.fetch(
            "https://shop.test/a",
            format="markdown",
            allow_redirects=False,
            allow_insecure_ssl=True,
            proxies=True,
            context_id="ctx-1",
        ),
    ),
    "fetch json": (
        lambda c: c.fetch_api.create(url="https://shop.test/a", format="json", schema={"type": "object"}),
        lambda h: h.fetch("https://shop.test/a", format="json", schema={"type": "object"}),
    ),
    "search": (
        lambda c: c.search.web(query="desk lamp", num_results=5),
        lambda h: h.search("desk lamp", num_results=5),
    ),
}


@pytest.mark.parametrize(("sdk_call", "hook_call"), CALLS.values(), ids=CALLS.keys())
def test_other_requests_are_the_sdks(
    sdk_call: Callable[[Browserbase], Any],
    hook_call: Callable[[BrowserbaseHook], Any],
    sdk_recorder: tuple[Browserbase, Recorder],
    hook_recorder: tuple[BrowserbaseHook, Recorder],
) -> None:
    client, from_sdk = sdk_recorder
    hook, from_hook = hook_recorder
    # Only what was sent matters here; a call that raises before sending leaves nothing to compare.
    with contextlib.suppress(Exception):
        sdk_call(client)
    with contextlib.suppress(Exception):
        hook_call(hook)
    assert from_hook.only() == from_sdk.only()


def test_release_with_the_connections_project_matches_the_sdk(
    monkeypatch: pytest.MonkeyPatch, sdk_recorder: tuple[Browserbase, Recorder]
) -> None:
    client, from_sdk = sdk_recorder
    monkeypatch.setenv("AIRFLOW_CONN_BB_PROJ", connection_uri_env(BASE_URL, "bb_contract", "proj-7"))
    recorder = Recorder()
    with BrowserbaseHook("bb_proj", transport=httpx.MockTransport(recorder)) as hook:
        hook.end_session("s-1")
    client.sessions.update("s-1", status="REQUEST_RELEASE", project_id="proj-7")
    assert recorder.only() == from_sdk.only()


def test_upload_uses_the_sdks_multipart_field(
    sdk_recorder: tuple[Browserbase, Recorder], hook_recorder: tuple[BrowserbaseHook, Recorder]
) -> None:
    client, from_sdk = sdk_recorder
    hook, from_hook = hook_recorder
    client.sessions.uploads.create("s-1", file=("report.csv", b"a,b\n"))
    hook.upload_file("s-1", b"a,b\n", "report.csv")
    for recorder in (from_sdk, from_hook):
        (request,) = recorder.requests
        assert request.url.path == "/v1/sessions/s-1/uploads"
        assert request.headers["content-type"].startswith("multipart/form-data")
        assert b'name="file"; filename="report.csv"' in request.content
