"""The CDP WebSocket proxy behind every session's ``connectUrl``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import websockets
from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.state import Registry, Session

log = logging.getLogger(__name__)

UPLOADS_PREFIX = "/tmp/.uploads/"  # noqa: S108 - Browserbase's documented in-browser upload folder
RAW_LIMIT = 4096
_RESPONSE_ID = re.compile(r'^\{"id":(\d+)[,}]')


def find_session(registry: Registry, websocket: WebSocket) -> Session | None:
    """Return the live session the query names, comparing every secret in constant time."""
    query = websocket.query_params
    signing_key = query.get("signingKey")
    if signing_key:
        found: Session | None = None
        for session in list(registry.sessions.values()):
            if secrets.compare_digest(session.signing_key.encode(), signing_key.encode()):
                found = session
        return found if found is not None and found.live else None
    api_key, session_id = query.get("apiKey"), query.get("sessionId")
    if api_key and session_id and secrets.compare_digest(api_key.encode(), registry.config.api_key.encode()):
        named = registry.sessions.get(session_id)
        return named if named is not None and named.live else None
    return None


def _truncate(raw: str) -> str:
    return raw if len(raw) <= RAW_LIMIT else raw[:RAW_LIMIT] + "...(truncated)"


class CdpRecorder:
    """
    Rewrite the few client commands that name host paths, and record command/response pairs.

    :param session: Session whose folders and log this connection uses.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.pending: OrderedDict[int, dict[str, Any]] = OrderedDict()

    def from_client(self, raw: str) -> str:
        try:
            message = json.loads(raw)
        except ValueError:
            return raw
        if not isinstance(message, dict):
            return raw
        method = message.get("method")
        params = message.get("params")
        if isinstance(params, dict) and self._rewrite(method, params):
            raw = json.dumps(message)
        call_id = message.get("id")
        if self.session.log_cdp and isinstance(method, str) and isinstance(call_id, int):
            now = int(time.time() * 1000)
            entry: dict[str, Any] = {
                "method": method,
                "pageId": self.session.page_id(message.get("sessionId")),
                "sessionId": self.session.id,
                "timestamp": now,
                "request": {
                    "params": params if isinstance(params, dict) and len(raw) <= RAW_LIMIT else {},
                    "rawBody": _truncate(raw),
                    "timestamp": now,
                },
            }
            self.session.logs.append(entry)
            self.pending[call_id] = entry
            limit = self.session.logs.maxlen or 1000
            while len(self.pending) > limit:
                self.pending.popitem(last=False)
        return raw

    def _rewrite(self, method: object, params: dict[str, Any]) -> bool:
        directory = self.session.directory
        if method in ("Browser.setDownloadBehavior", "Page.setDownloadBehavior"):
            behavior, path = params.get("behavior"), params.get("downloadPath")
            # Playwright's own call on connect ("allowAndName" into its artifacts folder on this host) is
            # left alone, so its download API keeps working; as on Browserbase, those files are not in
            # the session's zip. Any other allowing call - the documented {"downloadPath": "downloads"}
            # or a path that only exists on the client's machine - lands in the session's folder.
            playwright_own = behavior == "allowAndName" and isinstance(path, str) and os.path.isdir(path)
            if behavior in ("allow", "allowAndName") and not playwright_own:
                params["downloadPath"] = str(directory / "downloads")
                return True
            return False
        if method == "DOM.setFileInputFiles" and isinstance(params.get("files"), list):
            files = params["files"]
            mapped = [
                str(directory / "uploads" / f[len(UPLOADS_PREFIX) :])
                if isinstance(f, str) and f.startswith(UPLOADS_PREFIX)
                else f
                for f in files
            ]
            if mapped != files:
                params["files"] = mapped
                return True
        return False

    def from_browser(self, raw: str) -> None:
        if not self.pending:
            return
        match = _RESPONSE_ID.match(raw)
        if match is None:
            return
        entry = self.pending.pop(int(match.group(1)), None)
        if entry is None:
            return
        result: Any = {}
        if len(raw) <= RAW_LIMIT:
            with contextlib.suppress(ValueError):
                reply = json.loads(raw)
                result = reply.get("result", reply.get("error", {}))
        entry["response"] = {
            "result": result,
            "rawBody": _truncate(raw),
            "timestamp": int(time.time() * 1000),
        }


class ProxyConnection:
    """
    One CDP client and its own upstream connection to the session's browser.

    :param websocket: The accepted client socket.
    :param upstream: Connection to Chromium, or ``None`` for a ``--no-browser`` session.
    """

    def __init__(self, websocket: WebSocket, upstream: websockets.ClientConnection | None) -> None:
        self.websocket = websocket
        self.upstream = upstream
        self.last_command = time.monotonic()

    async def close(self, reason: str) -> None:
        if self.upstream is not None:
            await self.upstream.close()
        with contextlib.suppress(Exception):
            await self.websocket.close(code=1000, reason=reason)


async def _client_to_browser(conn: ProxyConnection, recorder: CdpRecorder) -> None:
    while True:
        message = await conn.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        conn.last_command = time.monotonic()
        text = message.get("text")
        if text is not None:
            text = recorder.from_client(text)
            if conn.upstream is None:
                await _answer_without_browser(conn.websocket, text)
            else:
                await conn.upstream.send(text)
        elif message.get("bytes") is not None and conn.upstream is not None:
            await conn.upstream.send(message["bytes"])


async def _browser_to_client(conn: ProxyConnection, recorder: CdpRecorder) -> None:
    if conn.upstream is None:
        await asyncio.Event().wait()  # only the client can end a --no-browser connection
        return
    async for message in conn.upstream:
        if isinstance(message, str):
            recorder.from_browser(message)
            await conn.websocket.send_text(message)
        else:
            await conn.websocket.send_bytes(message)


async def _close_when_idle(conn: ProxyConnection, idle_timeout: float) -> None:
    while True:
        idle = time.monotonic() - conn.last_command
        if idle >= idle_timeout:
            log.info("Closing a CDP client after %.0f s without a command", idle)
            return
        await asyncio.sleep(idle_timeout - idle)


async def _answer_without_browser(websocket: WebSocket, text: str) -> None:
    with contextlib.suppress(ValueError, AttributeError):
        call_id = json.loads(text).get("id")
        error = {"code": -32601, "message": "browserbase-local runs with --no-browser: no browser to drive"}
        await websocket.send_text(json.dumps({"id": call_id, "error": error}))


async def cdp_proxy(websocket: WebSocket) -> None:
    """Serve ``ws://HOST:PORT/?signingKey=KEY`` (or the legacy ``?apiKey=&sessionId=``)."""
    registry: Registry = websocket.app.state.registry
    session = find_session(registry, websocket)
    if session is None:
        await websocket.send_denial_response(
            PlainTextResponse("invalid session or signingKey", status_code=401)
        )
        return
    upstream = None
    if session.browser is not None:
        try:
            # A fresh connection, not the client's headers: Chromium refuses an Origin header (403).
            upstream = await websockets.connect(
                session.browser.ws_url, max_size=None, ping_interval=None, compression=None
            )
        except (OSError, websockets.WebSocketException) as exc:
            log.warning("Session %s: cannot reach its browser: %s", session.id, exc)
            await websocket.send_denial_response(
                PlainTextResponse("the session's browser is not reachable", status_code=502)
            )
            return
    await websocket.accept()
    conn = ProxyConnection(websocket, upstream)
    recorder = CdpRecorder(session)
    registry.client_connected(session, conn)
    pumps = [
        asyncio.ensure_future(_client_to_browser(conn, recorder)),
        asyncio.ensure_future(_browser_to_client(conn, recorder)),
    ]
    idle_timeout = registry.config.cdp_idle_timeout
    if idle_timeout:
        pumps.append(asyncio.ensure_future(_close_when_idle(conn, idle_timeout)))
    try:
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
    except (WebSocketDisconnect, websockets.ConnectionClosed):
        pass
    finally:
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        if upstream is not None:
            with contextlib.suppress(Exception):
                await upstream.close()
        with contextlib.suppress(Exception):
            await websocket.close()
        registry.client_disconnected(session, conn)
