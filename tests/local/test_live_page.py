"""``/sessions/<id>/live``: the page Airflow's "Browserbase Session" link opens, without an API key."""

from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING

import httpx
import pytest
import websockets.sync.client
from local_helpers import wait_for_status

from airflow_provider_browserbase.hooks._connection import session_url_for

if TYPE_CHECKING:
    from playwright.sync_api import Playwright

    from airflow_provider_browserbase.local.server import LocalServer

pytestmark = pytest.mark.browser


def assert_no_secret(page: str, server: LocalServer, signing_key: str | None = None) -> None:
    assert server.api_key not in page
    if signing_key is not None:
        assert signing_key not in page
        assert "signingKey" not in page


def test_live_session_page_is_the_viewer_of_its_pages_with_the_debug_token(
    api: httpx.Client, pw: Playwright, server: LocalServer
) -> None:
    created = api.post("/v1/sessions", json={"timeout": 600}).json()
    browser = pw.chromium.connect_over_cdp(created["connectUrl"])
    try:
        browser.contexts[0].pages[0].goto(f"{server.base_url}/site/")
        # The id alone, as the link was before: it opens nothing and says nothing about the session.
        bare = httpx.get(session_url_for(server.base_url, created["id"]))
        assert bare.status_code == 401
        assert "RUNNING" not in bare.text
        assert "/live/ws" not in bare.text

        handed_out = api.get(f"/v1/sessions/{created['id']}/debug").json()
        # What the hook's session_url() links to for a local server: the viewer with its status line.
        url = handed_out["debuggerFullscreenUrl"].replace("&fullscreen=1", "")
        assert url.startswith(session_url_for(server.base_url, created["id"]) + "?token=")
        page = httpx.get(url)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "RUNNING" in page.text
        assert_no_secret(page.text, server, created["signingKey"])

        sockets = re.findall(r'data-socket="([^"]+)"', page.text)
        assert len(sockets) == 1, page.text
        socket = html.unescape(sockets[0])
        assert socket == handed_out["wsUrl"]
        assert httpx.get(f"{server.base_url}/live-assets/viewer.js").status_code == 200

        # The socket the viewer opens lists the session's pages and drives the shown page, and nothing else.
        with websockets.sync.client.connect(socket, max_size=None) as ws:
            ws.send(json.dumps({"id": 1, "method": "Target.getTargets"}))
            pages = _answer(ws, 1)["result"]["targetInfos"]
            assert [p["url"] for p in pages] == [f"{server.base_url}/site/"]
            ws.send(json.dumps({"id": 2, "method": "Runtime.evaluate", "params": {"expression": "1"}}))
            refused = _answer(ws, 2)
            assert "not allowed on the live view" in refused["error"]["message"]
            target = f"{server.base_url}/site/#from-the-live-view"
            ws.send(json.dumps({"id": 3, "method": "Page.navigate", "params": {"url": target}}))
            assert "frameId" in _answer(ws, 3)["result"]
        assert browser.contexts[0].pages[0].evaluate("location.href") == target
    finally:
        browser.close()

    ended = wait_for_status(api, created["id"], "COMPLETED")
    page = httpx.get(url)
    assert page.status_code == 200
    assert "has ended with status <strong>COMPLETED</strong>" in page.text
    assert ended["startedAt"] in page.text
    assert ended["endedAt"] in page.text
    assert "data-socket" not in page.text
    assert "/live/ws" not in page.text
    assert_no_secret(page.text, server, created["signingKey"])


def _answer(ws: websockets.sync.client.ClientConnection, call_id: int) -> dict:
    while True:
        reply = json.loads(ws.recv(timeout=10))
        if reply.get("id") == call_id:
            return reply


def test_unknown_session_page_is_404_html(server: LocalServer) -> None:
    page = httpx.get(f"{server.base_url}/sessions/%3Cimg%20src=x%20onerror=alert(1)%3E/live")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<img" not in page.text
    assert_no_secret(page.text, server)


def test_session_page_of_a_browserless_session_says_there_is_no_view(make_server) -> None:
    running = make_server(no_browser=True)
    with httpx.Client(base_url=running.base_url, headers={"X-BB-API-Key": running.api_key}) as api:
        created = api.post("/v1/sessions", json={"keepAlive": True}).json()
        assert httpx.get(f"{running.base_url}/sessions/{created['id']}/live").status_code == 401
        page = httpx.get(api.get(f"/v1/sessions/{created['id']}/debug").json()["debuggerUrl"])
        assert page.status_code == 200
        assert "there is no live view" in page.text
        assert_no_secret(page.text, running, created["signingKey"])
        api.post(f"/v1/sessions/{created['id']}", json={"status": "REQUEST_RELEASE"})
