"""
``debuggerUrl``'s page socket (``/sessions/<id>/devtools/page/<targetId>``): the session's live-view token
only, one page only (no browser-level reach), the CDP proxy's file rules, and Chromium's DevTools origin
accepted here and nowhere else.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
import websockets.exceptions
import websockets.sync.client
from browser_helpers import answer, cdp, new_session, release

from airflow_provider_browserbase.local import devtools

if TYPE_CHECKING:
    import httpx
    from playwright.sync_api import Playwright

    from airflow_provider_browserbase.local.server import LocalServer

pytestmark = pytest.mark.browser
pytest_plugins = ["browser_helpers"]

DEVTOOLS_ORIGIN = "devtools://devtools"


def _socket_url(debugger_url: str) -> str:
    """The socket the DevTools frontend opens for ``debuggerUrl`` (``ws://`` + its decoded ``ws``)."""
    (inner,) = parse_qs(urlsplit(debugger_url).query)["ws"]
    return f"ws://{inner}"


def _page_socket(browser_api: httpx.Client, session_id: str) -> tuple[str, str]:
    """The first page's DevTools socket URL and that page's target id."""
    live = browser_api.get(f"/v1/sessions/{session_id}/debug").json()
    assert live["debuggerUrl"] == live["pages"][0]["debuggerUrl"]
    return _socket_url(live["debuggerUrl"]), live["pages"][0]["id"]


def _refused(url: str, **options: Any) -> tuple[int, str]:
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        websockets.sync.client.connect(url, open_timeout=10, **options).close()
    response = refused.value.response
    return response.status_code, response.body.decode() if response.body else ""


def _with_token(url: str, token: str) -> str:
    return url.partition("?token=")[0] + f"?token={token}"


def test_the_page_socket_needs_the_sessions_own_live_token(
    browser_api: httpx.Client, browser_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    first, second = new_session(browser_api), new_session(browser_api)
    try:
        url, target_id = _page_socket(browser_api, first["id"])
        other_url, _ = _page_socket(browser_api, second["id"])
        base = url.partition("?")[0]
        for query in ("", "?token=", "?token=1", f"?token={first['id']}", "?token=9999999999.00"):
            assert _refused(base + query)[0] == 401, query
        # The other session's token, on this session's page.
        assert _refused(_with_token(url, other_url.partition("?token=")[2]))[0] == 401
        # A token signed for this session that has expired (as expiresIn makes them).
        session = browser_server.app.state.registry.sessions[first["id"]]
        assert _refused(_with_token(url, devtools.make_token(session, int(time.time()) - 1)))[0] == 401
        # Its own token, but a target that is no page of this session's browser.
        assert _refused(url.replace(target_id, second["id"].replace("-", "").upper()))[0] == 404
        with websockets.sync.client.connect(url, max_size=None) as ws:  # its own token: opens
            reply = cdp(ws, 1, "Runtime.evaluate", expression="1 + 1", returnByValue=True)
            assert reply["result"]["result"]["value"] == 2
            assert "sessionId" not in reply  # the page-level protocol: the page session stays hidden
        # Refusals and the accepted socket are logged (a WARNING line each), never with the token.
        assert "Refused a WebSocket to /sessions/" in caplog.text
        assert url.partition("?token=")[2] not in caplog.text
    finally:
        release(browser_api, first["id"])
        release(browser_api, second["id"])


def _drain(ws: websockets.sync.client.ClientConnection) -> None:
    while True:
        ws.recv(timeout=15)


def test_the_page_socket_closes_with_its_page_and_with_the_session(browser_api: httpx.Client) -> None:
    created = new_session(browser_api)
    url, first_page = _page_socket(browser_api, created["id"])
    with websockets.sync.client.connect(created["connectUrl"], max_size=None) as proxy:
        second_page = cdp(proxy, 1, "Target.createTarget", url="about:blank")["result"]["targetId"]
        second_url = url.replace(first_page, second_page)
        with websockets.sync.client.connect(second_url, max_size=None) as ws:
            assert "result" in cdp(ws, 1, "Runtime.evaluate", expression="1")
            assert "error" not in cdp(proxy, 2, "Target.closeTarget", targetId=second_page)
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                _drain(ws)
        assert _refused(second_url)[0] == 404
    with websockets.sync.client.connect(url, max_size=None) as ws:
        assert "result" in cdp(ws, 1, "Runtime.evaluate", expression="1")
        release(browser_api, created["id"])
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            _drain(ws)
    assert _refused(url)[0] == 401


def test_the_page_socket_reaches_one_page_and_follows_the_proxys_rules(
    browser_api: httpx.Client, pw: Playwright, browser_server: LocalServer
) -> None:
    created = new_session(browser_api)
    browser = pw.chromium.connect_over_cdp(created["connectUrl"])
    try:
        context = browser.contexts[0]
        context.pages[0].goto(f"{browser_server.base_url}/site/")
        other = context.new_page()
        other.goto("about:blank#other")
        live = browser_api.get(f"/v1/sessions/{created['id']}/debug").json()
        inspected = next(p for p in live["pages"] if p["url"].endswith("/site/"))
        url, target_id = _socket_url(inspected["debuggerUrl"]), inspected["id"]
        other_id = next(p["id"] for p in live["pages"] if p["id"] != target_id)
        with websockets.sync.client.connect(url, max_size=None, origin=DEVTOOLS_ORIGIN) as ws:  # type: ignore[arg-type]
            for call, (method, params) in enumerate(
                [
                    ("Browser.getVersion", {}),
                    ("Browser.close", {}),
                    ("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": "/tmp"}),
                    ("Target.createTarget", {"url": "about:blank"}),
                    ("Target.attachToTarget", {"targetId": other_id, "flatten": True}),
                    ("Target.attachToBrowserTarget", {}),
                    ("Target.closeTarget", {"targetId": other_id}),
                    ("Target.getTargets", {}),
                    ("Target.activateTarget", {"targetId": other_id}),
                    ("Target.getTargetInfo", {"targetId": other_id}),
                    ("Target.exposeDevToolsProtocol", {"targetId": target_id}),
                    ("Tethering.bind", {"port": 9222}),
                ],
                start=10,
            ):
                refused = cdp(ws, call, method, **params)
                assert "error" in refused, (method, refused)
                assert "not allowed" in refused["error"]["message"] or "only" in refused["error"]["message"]
            for call, file_url in enumerate(
                ["file:///etc/hostname", "view-source:file:///etc/passwd"], start=30
            ):
                refused = cdp(ws, call, "Page.navigate", url=file_url)
                assert "--allow-file-urls" in refused["error"]["message"]
            refused = cdp(ws, 40, "DOM.setFileInputFiles", files=["/etc/hostname"], nodeId=1)
            assert "not one of this session's uploads" in refused["error"]["message"]
            refused = cdp(ws, 41, "Target.detachFromTarget", sessionId="0" * 32)
            assert "error" in refused
            refused = cdp(ws, 42, "Runtime.evaluate", expression="1", sessionId="0" * 32)
            assert "error" in refused

            # Discovery is answered here: the browser's other targets are never reported.
            assert cdp(ws, 50, "Target.setDiscoverTargets", discover=True) == {"id": 50, "result": {}}
            ws.send(json.dumps({"id": 51, "method": "Runtime.evaluate", "params": {"expression": "1"}}))
            while True:
                message = json.loads(ws.recv(timeout=15))
                assert message.get("method") != "Target.targetCreated", message
                if message.get("id") == 51:
                    break
            # What the frontend needs works: its own page, and auto-attach scoped to that page.
            info = cdp(ws, 60, "Target.getTargetInfo")["result"]["targetInfo"]
            assert info["targetId"] == target_id
            assert "error" not in cdp(
                ws, 61, "Target.setAutoAttach", autoAttach=True, waitForDebuggerOnStart=False, flatten=True
            )
            # A cross-site iframe is its own target: auto-attached as a child session the socket reaches.
            frame_url = f"http://localhost:{browser_server.config.port}/site/"
            add_frame = (
                "document.body.append(Object.assign(document.createElement('iframe'), "
                f"{{src: '{frame_url}'}}))"
            )
            assert "error" not in cdp(ws, 63, "Runtime.evaluate", expression=add_frame)
            while True:
                message = json.loads(ws.recv(timeout=15))
                if message.get("method") == "Target.attachedToTarget":
                    break
            assert "sessionId" not in message  # announced on the page itself
            child = message["params"]["sessionId"]
            assert message["params"]["targetInfo"]["type"] == "iframe"
            reply = cdp(
                ws, 64, "Runtime.evaluate", expression="location.href", returnByValue=True, sessionId=child
            )
            assert reply["sessionId"] == child
            assert reply["result"]["result"]["value"] == frame_url
            ws.send(
                json.dumps({"id": 62, "method": "Page.navigate", "params": {"url": "about:blank#inspected"}})
            )
            assert "frameId" in answer(ws, 62)["result"]
        context.pages[0].wait_for_url("about:blank#inspected", timeout=10000)
        # The other page was neither closed nor navigated, and no page was opened.
        assert other.url == "about:blank#other"
        assert len(context.pages) == 2
    finally:
        browser.close()
        release(browser_api, created["id"])


def test_the_page_socket_refuses_foreign_origins(browser_api: httpx.Client) -> None:
    created = new_session(browser_api)
    try:
        url, _ = _page_socket(browser_api, created["id"])
        for origin in ("http://evil.example", "null", "http://127.0.0.1:1", "devtools://devtools.evil"):
            status, body = _refused(url, origin=origin)
            assert status == 403, origin
            assert "refused" in body
    finally:
        release(browser_api, created["id"])


def test_the_devtools_origin_opens_the_page_socket_and_nothing_else(browser_api: httpx.Client) -> None:
    created = new_session(browser_api)
    try:
        url, _ = _page_socket(browser_api, created["id"])
        live = browser_api.get(f"/v1/sessions/{created['id']}/debug").json()
        with websockets.sync.client.connect(url, origin=DEVTOOLS_ORIGIN) as ws:  # type: ignore[arg-type]
            assert "result" in cdp(ws, 1, "Runtime.evaluate", expression="1")
        # The same origin on the CDP proxy and on the person's viewer socket: refused.
        for elsewhere in (created["connectUrl"], live["wsUrl"]):
            assert _refused(elsewhere, origin=DEVTOOLS_ORIGIN)[0] == 403
        # ...and on a look-alike path beside the page socket.
        assert (
            _refused(url.replace("/devtools/page/", "/devtools/browser/"), origin=DEVTOOLS_ORIGIN)[0] == 403
        )
    finally:
        release(browser_api, created["id"])
