"""Live view: Chromium's own DevTools frontend, served and proxied through the server's port."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import websockets
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from starlette.requests import Request

    from airflow_provider_browserbase.local.config import LocalConfig
    from airflow_provider_browserbase.local.state import Registry, Session

log = logging.getLogger(__name__)

MAX_EXPIRES_IN = 21600


def make_token(secret: bytes, session_id: str, expires: int) -> str:
    """A URL token proving the holder got it from ``/debug`` for this session, valid until ``expires``."""
    digest = hmac.new(secret, f"{session_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{expires}-{digest}"


def check_token(secret: bytes, session_id: str, token: str) -> bool:
    expires_text, _, _ = token.partition("-")
    if not expires_text.isdigit() or int(expires_text) < time.time():
        return False
    return hmac.compare_digest(make_token(secret, session_id, int(expires_text)), token)


async def list_pages(session: Session) -> list[dict[str, Any]]:
    """The session's page targets from Chromium's ``/json/list``."""
    browser = session.browser
    if browser is None or not browser.alive:
        return []
    try:
        async with httpx.AsyncClient(timeout=5.0) as client:
            targets = (await client.get(f"{browser.http_url}/json/list")).json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("Session %s: listing pages failed: %s", session.id, exc)
        return []
    return [t for t in targets if isinstance(t, dict) and t.get("type") == "page"]


async def live_urls(
    config: LocalConfig, secret: bytes, session: Session, expires_in: int | None
) -> dict[str, Any]:
    """Build ``SessionLiveURLs``: a DevTools URL per page, valid until the session ends or ``expiresIn``."""
    until = int(session.expires_at.timestamp())
    if expires_in is not None:
        until = min(until, int(time.time()) + expires_in)
    token = make_token(secret, session.id, until)
    base = f"{config.netloc}/debug/{session.id}/{token}/devtools"

    def inspector(target_id: str, fullscreen: bool) -> str:
        # The frontend opens ws://<value of ws=>, so the page socket also goes through this server.
        path = "devtools-fullscreen" if fullscreen else "devtools"
        ws = quote(f"{base}/page/{target_id}", safe="/:")
        return f"{config.base_url}/{path}/inspector.html?ws={ws}"

    pages = []
    for target in await list_pages(session):
        target_id = str(target.get("id", ""))
        pages.append(
            {
                "id": target_id,
                "url": target.get("url", ""),
                "title": target.get("title", ""),
                "faviconUrl": target.get("faviconUrl", ""),
                "debuggerUrl": inspector(target_id, fullscreen=False),
                "debuggerFullscreenUrl": inspector(target_id, fullscreen=True),
            }
        )
    first = pages[0]["id"] if pages else ""
    return {
        "debuggerUrl": inspector(first, fullscreen=False),
        "debuggerFullscreenUrl": inspector(first, fullscreen=True),
        "wsUrl": f"ws://{base}/browser",
        "pages": pages,
    }


async def frontend_file(request: Request) -> Response:
    """Serve ``/devtools/<file>`` (and ``/devtools-fullscreen/<file>``) from a running Chromium."""
    registry: Registry = request.app.state.registry
    path = request.path_params["path"]
    browsers = [s.browser for s in registry.sessions.values() if s.live and s.browser and s.browser.alive]
    if not browsers:
        return PlainTextResponse("no running browser to serve the DevTools frontend from", status_code=404)
    browser = browsers[0]
    assert browser is not None
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            upstream = await client.get(f"{browser.http_url}/devtools/{path}")
    except httpx.HTTPError:
        return PlainTextResponse("the browser did not answer", status_code=502)
    headers = {"content-type": upstream.headers.get("content-type", "application/octet-stream")}
    return Response(upstream.content, status_code=upstream.status_code, headers=headers)


async def debug_socket(websocket: WebSocket) -> None:
    """Proxy ``/debug/<sid>/<token>/devtools/page/<targetId>`` (and ``.../browser``) to Chromium."""
    registry: Registry = websocket.app.state.registry
    params = websocket.path_params
    session = registry.sessions.get(params["session_id"])
    token_ok = check_token(websocket.app.state.secret, params["session_id"], params["token"])
    if session is None or not token_ok or not session.live or session.browser is None:
        await websocket.send_denial_response(PlainTextResponse("invalid or expired live-view URL", 401))
        return
    browser = session.browser
    target = params.get("target_id")
    upstream_url = f"ws://127.0.0.1:{browser.port}/devtools/page/{target}" if target else browser.ws_url
    try:
        upstream = await websockets.connect(upstream_url, max_size=None, ping_interval=None, compression=None)
    except (OSError, websockets.WebSocketException):
        await websocket.send_denial_response(PlainTextResponse("no such page", 404))
        return
    await websocket.accept()

    async def to_browser() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await upstream.send(message["text"])
            elif message.get("bytes") is not None:
                await upstream.send(message["bytes"])

    async def to_client() -> None:
        async for message in upstream:
            if isinstance(message, str):
                await websocket.send_text(message)
            else:
                await websocket.send_bytes(message)

    pumps = [asyncio.ensure_future(to_browser()), asyncio.ensure_future(to_client())]
    try:
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
    except (WebSocketDisconnect, websockets.ConnectionClosed):
        pass
    finally:
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        with contextlib.suppress(Exception):
            await upstream.close()
        with contextlib.suppress(Exception):
            await websocket.close()
