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


def test_live_session_page_embeds_the_devtools_view_of_its_first_page(
    api: httpx.Client, pw: Playwright, server: LocalServer
) -> None:
    created = api.post("/v1/sessions", json={"timeout": 600}).json()
    browser = pw.chromium.connect_over_cdp(created["connectUrl"])
    try:
        browser.contexts[0].pages[0].goto(f"{server.base_url}/site/")
        # The very URL the hook gives Airflow's extra link, opened as a person would: no API key.
        url = session_url_for(server.base_url, created["id"])
        page = httpx.get(url)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert "RUNNING" in page.text
        assert_no_secret(page.text, server, created["signingKey"])

        frames = re.findall(r'<iframe id="live-view" src="([^"]+)"', page.text)
        assert len(frames) == 1, page.text
        view = html.unescape(frames[0])
        handed_out = api.get(f"/v1/sessions/{created['id']}/debug").json()
        # Same kind of URL as /debug's, for the same page (tokens differ only if a second ticked by).
        assert view.split("/debug/")[0] == handed_out["debuggerFullscreenUrl"].split("/debug/")[0]
        assert view.split("/devtools/page/")[1] == handed_out["pages"][0]["id"]
        frontend = httpx.get(view)
        assert frontend.status_code == 200
        assert "DevTools" in frontend.text

        # The socket the embedded frontend opens drives the session's page.
        with websockets.sync.client.connect("ws://" + view.split("?ws=", 1)[1], max_size=None) as ws:
            command = {"id": 1, "method": "Runtime.evaluate", "params": {"expression": "location.href"}}
            ws.send(json.dumps(command))
            reply = ws.recv(timeout=10)
            while '"id":1' not in reply:
                reply = ws.recv(timeout=10)
        assert f"{server.base_url}/site/" in reply
    finally:
        browser.close()

    ended = wait_for_status(api, created["id"], "COMPLETED")
    page = httpx.get(session_url_for(server.base_url, created["id"]))
    assert page.status_code == 200
    assert "has ended with status <strong>COMPLETED</strong>" in page.text
    assert ended["startedAt"] in page.text
    assert ended["endedAt"] in page.text
    assert "<iframe" not in page.text
    assert "/debug/" not in page.text
    assert_no_secret(page.text, server, created["signingKey"])


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
        page = httpx.get(f"{running.base_url}/sessions/{created['id']}/live")
        assert page.status_code == 200
        assert "there is no live view" in page.text
        assert_no_secret(page.text, running, created["signingKey"])
        api.post(f"/v1/sessions/{created['id']}", json={"status": "REQUEST_RELEASE"})
