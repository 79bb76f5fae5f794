"""The connection: base-URL rules, project id, lazy and async resolution, the form, the session page."""

from __future__ import annotations

import asyncio
import sys
import types
from typing import Any

import httpx
import pytest

from airflow_provider_browserbase.exceptions import BrowserbaseError
from airflow_provider_browserbase.hooks._connection import resolve_base_url, session_url_for
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.hooks.connection_form import CONN_FIELDS, UI_FIELD_BEHAVIOUR
from tests.hooks.hook_helpers import API_KEY, PROJECT_ID, connection_json, created_json, session_json


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        (None, None, "https://api.browserbase.com"),
        ("", None, "https://api.browserbase.com"),
        ("   ", None, "https://api.browserbase.com"),
        ("127.0.0.1:8787", None, "http://127.0.0.1:8787"),
        ("127.0.0.1", 8787, "http://127.0.0.1:8787"),
        ("localhost:8787", None, "http://localhost:8787"),
        ("[::1]:8787", None, "http://[::1]:8787"),
        ("api.browserbase.com", None, "https://api.browserbase.com"),
        ("bb.example.com:8443/", None, "https://bb.example.com:8443"),
        ("http://127.0.0.1:8787/", None, "http://127.0.0.1:8787"),
        ("https://api.browserbase.com/", None, "https://api.browserbase.com"),
        ("http://gateway.internal/browserbase/", None, "http://gateway.internal/browserbase"),
        ("http://127.0.0.1:8787", 9999, "http://127.0.0.1:8787"),
    ],
)
def test_base_url_rules(host: str | None, port: int | None, expected: str) -> None:
    assert resolve_base_url(host, port) == expected


SECRET_IN_HOST = "pw-in-host-SECRET-77"


@pytest.mark.parametrize(
    "host",
    [
        f"http://alice:{SECRET_IN_HOST}@127.0.0.1:8787",
        f"alice:{SECRET_IN_HOST}@bb.example.com",
        f"https://{SECRET_IN_HOST}@api.browserbase.com/",
        f"http://:{SECRET_IN_HOST}@localhost:8787",
    ],
)
def test_credentials_in_the_host_are_refused_without_repeating_them(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="must not contain a user name or password") as excinfo:
        resolve_base_url(host)
    assert SECRET_IN_HOST not in str(excinfo.value)

    monkeypatch.setenv("AIRFLOW_CONN_BB_CREDS", connection_json(host=host))
    hook = BrowserbaseHook("bb_creds")
    with pytest.raises(BrowserbaseError, match=r"'bb_creds': the host \(API base URL\) must not") as raised:
        hook.session_url("s-1")
    ok, message = hook.test_connection()
    assert not ok
    assert "host (API base URL)" in message
    texts = [str(raised.value), message, repr(hook)]
    assert all(SECRET_IN_HOST not in text and "alice" not in text for text in texts)


async def test_credentials_in_the_host_are_refused_by_the_async_lookup_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BB_CREDS", connection_json(host=f"http://a:{SECRET_IN_HOST}@bb.test"))
    with pytest.raises(BrowserbaseError, match="must not contain a user name or password") as raised:
        await BrowserbaseHook("bb_creds").aget_session("s-1")
    assert SECRET_IN_HOST not in str(raised.value)


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://api.browserbase.com", "https://www.browserbase.com/sessions/s%2F1"),
        ("http://127.0.0.1:8787", "http://127.0.0.1:8787/sessions/s%2F1/live"),
    ],
)
def test_session_url(base_url: str, expected: str) -> None:
    assert session_url_for(base_url, "s/1") == expected


def test_connection_is_read_lazily_and_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = BrowserbaseHook.get_connection

    def counting(conn_id: str) -> Any:
        calls.append(conn_id)
        return original(conn_id)

    monkeypatch.setattr(BrowserbaseHook, "get_connection", staticmethod(counting))
    hook = BrowserbaseHook()
    assert calls == []
    assert hook.base_url == "http://bb.test"
    assert hook.project_id == PROJECT_ID
    assert hook.conn_settings.base_url == "http://bb.test"
    assert calls == ["browserbase_default"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"project_id": "p-plain"}, "p-plain"),
        ({"extra__browserbase__project_id": "p-prefixed"}, "p-prefixed"),
        ({"project_id": "", "extra__browserbase__project_id": "p-2"}, "p-2"),
        ({}, None),
    ],
)
def test_project_id_extra(
    extra: dict[str, str], expected: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BB_EXTRA", connection_json(**extra))
    assert BrowserbaseHook("bb_extra").project_id == expected


def test_uri_form_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BB_URI", f"browserbase://:{API_KEY}@127.0.0.1:8787/?project_id=p-uri")
    settings = BrowserbaseHook("bb_uri").conn_settings
    assert (settings.base_url, settings.api_key, settings.project_id) == (
        "http://127.0.0.1:8787",
        API_KEY,
        "p-uri",
    )
    assert API_KEY not in repr(settings)


ASYNC_CALLS: dict[str, Any] = {
    "alist_sessions": lambda h: h.alist_sessions(),
    "acreate_session": lambda h: h.acreate_session(),
    "aget_project": lambda h: h.aget_project(),
    "aget_project_usage": lambda h: h.aget_project_usage(),
    "acreate_context": lambda h: h.acreate_context(name="n"),
    "aend_session": lambda h: h.aend_session("s-1"),
    "asession_url": lambda h: h.asession_url("s-1"),
}


@pytest.mark.parametrize("call", ASYNC_CALLS.values(), ids=ASYNC_CALLS.keys())
async def test_async_calls_never_call_sync_get_connection_on_the_loop(
    call: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each async call resolves the connection with aget_connection first (a fresh hook each time)."""
    original = BrowserbaseHook.get_connection

    def forbidden_on_the_loop(*args: Any, **kwargs: Any) -> Any:
        # Airflow 3.1's get_async_connection falls back to the sync lookup in a worker thread: fine.
        # What must never happen is the sync lookup on the event loop's own thread.
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return original(*args, **kwargs)
        raise AssertionError("sync get_connection called on the event loop")

    monkeypatch.setattr(BrowserbaseHook, "get_connection", staticmethod(forbidden_on_the_loop))
    seen: list[httpx.Request] = []
    live = "http://bb.test/sessions/s-1/live?token=t"

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/sessions/s-1/debug":
            return httpx.Response(200, json=live_urls_json(live))
        if request.url.path == "/v1/sessions" and request.method == "POST":
            return httpx.Response(201, json=created_json())
        if request.url.path == "/v1/sessions":
            return httpx.Response(200, json=[])
        if request.url.path.startswith("/v1/sessions/"):
            return httpx.Response(200, json=session_json(status="COMPLETED"))
        if request.url.path == "/v1/contexts":
            return httpx.Response(
                201,
                json={
                    "id": "c-1",
                    "uploadUrl": "u",
                    "publicKey": "k",
                    "cipherAlgorithm": "AES-256-CBC",
                    "initializationVectorSize": 16,
                },
            )
        if request.url.path.endswith("/usage"):
            return httpx.Response(200, json={"browserMinutes": 1, "proxyBytes": 0})
        return httpx.Response(200, json={"id": PROJECT_ID, "name": "p"})

    hook = BrowserbaseHook(async_transport=httpx.MockTransport(handler))
    await call(hook)
    await hook.aclose()
    assert all(request.headers["X-BB-API-Key"] == API_KEY for request in seen)


def live_urls_json(live: str) -> dict[str, Any]:
    # As browserbase-local answers: debuggerUrl is Chromium's DevTools (for developers), the person's
    # viewer is debuggerFullscreenUrl, which the session link shows with its status line (no fullscreen=1).
    devtools = (
        "devtools://devtools/bundled/inspector.html?ws=bb.test/sessions/s-1/devtools/page/T%3Ftoken%3Dt"
    )
    viewer = f"{live}&fullscreen=1" if "?" in live else live
    return {"debuggerUrl": devtools, "debuggerFullscreenUrl": viewer, "wsUrl": "ws://bb.test/x", "pages": []}


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
async def test_session_url_of_a_local_server_carries_the_live_view_token(asynchronous: bool) -> None:
    """Not Browserbase's cloud: the live view's URL with its token, from /debug; the plain page once ended."""
    live = "http://bb.test/sessions/s-1/live?token=t"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/sessions/s-1/debug":
            return httpx.Response(200, json=live_urls_json(live))
        return httpx.Response(410, json={"statusCode": 410, "message": "Session s-2 has ended"})

    transport = httpx.MockTransport(handler)
    if asynchronous:
        hook = BrowserbaseHook(async_transport=transport)
        assert await hook.asession_url("s-1") == live
        assert await hook.asession_url("s-2") == "http://bb.test/sessions/s-2/live"
        await hook.aclose()
    else:
        hook = BrowserbaseHook(transport=transport)
        assert hook.session_url("s-1") == live
        assert hook.session_url("s-2") == "http://bb.test/sessions/s-2/live"


def test_hook_attributes() -> None:
    assert BrowserbaseHook.conn_name_attr == "browserbase_conn_id"
    assert BrowserbaseHook.default_conn_name == "browserbase_default"
    assert BrowserbaseHook.conn_type == "browserbase"
    assert BrowserbaseHook.hook_name == "Browserbase"
    assert BrowserbaseHook(browserbase_conn_id="x").browserbase_conn_id == "x"


def test_ui_field_behaviour_matches_the_provider_info() -> None:
    behaviour = BrowserbaseHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == ["schema", "port", "login"] == UI_FIELD_BEHAVIOUR["hidden-fields"]
    assert behaviour["relabeling"] == {"password": "API Key", "host": "API base URL"}
    assert "http://127.0.0.1:8787" in behaviour["placeholders"]["host"]


def test_connection_form_widgets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow 3.0/3.1 replace the FAB modules with stand-ins; so do we, recording what is built."""

    class Field:
        def __init__(self, label: str, **kwargs: Any) -> None:
            self.label, self.kwargs = label, kwargs

    modules = {
        "flask_appbuilder": types.ModuleType("flask_appbuilder"),
        "flask_appbuilder.fieldwidgets": types.SimpleNamespace(BS3TextFieldWidget=lambda: "text-widget"),
        "flask_babel": types.SimpleNamespace(lazy_gettext=lambda text: text),
        "wtforms": types.SimpleNamespace(StringField=Field),
        "wtforms.validators": types.SimpleNamespace(Optional=lambda: "optional"),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    widgets = BrowserbaseHook.get_connection_form_widgets()
    assert set(widgets) == set(CONN_FIELDS) == {"project_id"}
    field = widgets["project_id"]
    assert field.label == "Project ID"
    assert field.kwargs["widget"] == "text-widget"
    assert field.kwargs["validators"] == ["optional"]


def _tls_context(client: httpx.Client | httpx.AsyncClient) -> Any:
    return client._transport._pool._ssl_context  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("host", "proxy", "trusts_authorities"),
    [
        ("http://bb.test", None, False),  # browserbase-local: no CA bundle loaded for TLS it never uses
        ("https://api.browserbase.com", None, True),
        ("http://bb.test", "https://proxy.corp.test:3128", True),  # a proxy may be https: the default
    ],
    ids=["plain-http", "https", "plain-http-behind-a-proxy"],
)
def test_the_clients_tls_context(
    monkeypatch: pytest.MonkeyPatch, host: str, proxy: str | None, trusts_authorities: bool
) -> None:
    import ssl

    monkeypatch.setenv("AIRFLOW_CONN_BB_TLS", connection_json(host=host))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    if proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy)
    hook = BrowserbaseHook(browserbase_conn_id="bb_tls")
    try:
        contexts = [_tls_context(hook.get_conn())]
        contexts.append(_tls_context(asyncio.run(hook.aget_conn())))
        for context in contexts:
            # Always as strict as httpx's default; only the plain-http one trusts no authority, so it
            # could never complete a handshake if something led it to https.
            assert context.verify_mode == ssl.CERT_REQUIRED
            assert context.check_hostname
            assert (context.cert_store_stats()["x509_ca"] > 0) is trusts_authorities
    finally:
        hook.close()
