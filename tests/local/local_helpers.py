"""Helpers shared by the ``browserbase-local`` tests (a test site, HTTP client, status polling)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route

from airflow_provider_browserbase.local.server import LocalServer

if TYPE_CHECKING:
    from starlette.requests import Request

API_KEY = "bb_local_test_key"
STARTED_DIRS: list[Path] = []

SITE_PAGE = """<!doctype html>
<html><head><title>Test site</title></head>
<body>
  <h1 id="title">Test site</h1>
  <a id="download" href="/site/report.txt">report</a>
  <input id="file" type="file">
</body></html>"""
REPORT = "quarterly numbers\n"
# What the page's first script saw: settings must be in place before it runs, in every tab.
FIRST_SCRIPT_PAGE = """<!doctype html>
<html><head><title>New tab</title><script>
  window.firstScript = {width: innerWidth, height: innerHeight, platform: navigator.platform,
                        hasOpener: window.opener !== null};
</script></head>
<body><h1 id="title">New tab</h1></body></html>"""


async def _site_page(request: Request) -> HTMLResponse:
    return HTMLResponse(SITE_PAGE)


async def _first_script(request: Request) -> HTMLResponse:
    return HTMLResponse(FIRST_SCRIPT_PAGE)


async def _report(request: Request) -> PlainTextResponse:
    return PlainTextResponse(REPORT, headers={"Content-Disposition": 'attachment; filename="report.txt"'})


SITE_ROUTES = [
    Route("/site/", _site_page),
    Route("/site/report.txt", _report),
    Route("/site/first-script", _first_script),
]


def start_server(**options: Any) -> LocalServer:
    options.setdefault("pool_size", 0)
    server = LocalServer(port=0, api_key=API_KEY, extra_routes=SITE_ROUTES, **options).start()
    STARTED_DIRS.append(server.data_dir)
    return server


def client(server: LocalServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"X-BB-API-Key": server.api_key}, timeout=30)


def wait_for_status(api: httpx.Client, session_id: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
    """Poll the session until it has ``status`` (release and disconnects end sessions asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(f"/v1/sessions/{session_id}").json()
        if body["status"] == status or time.monotonic() > deadline:
            assert body["status"] == status, body
            return body
        time.sleep(0.1)


def browser_pid(server: LocalServer, session_id: str) -> int:
    assert server.app is not None
    session = server.app.state.registry.sessions[session_id]
    assert session.browser is not None
    assert session.browser.pid is not None
    return session.browser.pid


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    """Wait until ``pid`` is gone or a zombie (reaped later by init)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state == "Z":
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} is still running")
