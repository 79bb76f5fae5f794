"""The CDP WebSocket proxy behind every session's ``connectUrl``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from airflow_provider_browserbase.local.cdp import CdpError
from airflow_provider_browserbase.local.cdp_mux import Outbox, error_answer
from airflow_provider_browserbase.local.cdp_rules import CommandRefusedError, SessionFiles, apply_rules
from airflow_provider_browserbase.local.limits import describe_size

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.cdp_mux import CdpChannel
    from airflow_provider_browserbase.local.state import Registry, Session

log = logging.getLogger(__name__)

RAW_LIMIT = 4096
NO_BROWSER = "browserbase-local runs with --no-browser: no browser to drive"
# Close code and reason for a client whose unread messages passed --max-cdp-backlog (1008: policy).
BACKLOG_CLOSE = (1008, "too many unread CDP messages: over {} waited for this client (--max-cdp-backlog)")
# How long the close frame may wait behind unread data: a client that resumed reading sees the reason;
# one that never reads again is let go (its socket is closed once the data before drains or it goes).
BACKLOG_CLOSE_WAIT = 10.0
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
    Record a client's command/response pairs for ``/v1/sessions/<id>/logs``.

    :param session: Session whose log this connection writes.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.pending: OrderedDict[int, dict[str, Any]] = OrderedDict()

    def from_client(self, message: dict[str, Any], raw: str) -> None:
        method = message.get("method")
        params = message.get("params")
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
    One CDP client and its own browser-level channel to the session's browser.

    :param websocket: The accepted client socket.
    :param files: The session's folders and whether ``file:`` URLs are allowed.
    :param backlog: Characters of messages that may wait for the client (``--max-cdp-backlog``).
    """

    def __init__(self, websocket: WebSocket, files: SessionFiles, backlog: int) -> None:
        self.websocket = websocket
        self.files = files
        self.channel: CdpChannel | None = None
        self.outbox = Outbox(backlog)
        self.last_command = time.monotonic()

    async def close(self, reason: str) -> None:
        if self.channel is not None:
            await self.channel.close()
        with contextlib.suppress(Exception):
            await self.websocket.close(code=1000, reason=reason)


def parse_command(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """Return ``(command, None)``, or ``(None, error answer)`` for text that is no CDP command."""
    try:
        message = json.loads(text)
    except ValueError:
        return None, error_answer(None, "Message must be a valid JSON", -32700)
    if not isinstance(message, dict):
        return None, error_answer(None, "Message must be an object", -32600)
    return message, None


async def _client_to_browser(conn: ProxyConnection, recorder: CdpRecorder) -> None:
    while True:
        message = await conn.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        conn.last_command = time.monotonic()
        text = message.get("text")
        if text is None and message.get("bytes") is not None:
            text = message["bytes"].decode("utf-8", errors="replace")
        if text is None:
            continue
        command, refused = parse_command(text)
        if command is not None:
            recorder.from_client(command, text)
            refused = _forward(conn, command)
        if refused is not None:
            recorder.from_browser(refused)
            await conn.websocket.send_text(refused)


def _forward(conn: ProxyConnection, command: dict[str, Any]) -> str | None:
    try:
        apply_rules(command, conn.files)
    except CommandRefusedError as exc:
        return error_answer(command.get("id"), str(exc), session_id=command.get("sessionId"))
    if conn.channel is None:
        return error_answer(command.get("id"), NO_BROWSER, session_id=command.get("sessionId"))
    return conn.channel.send(command)


async def _close_when_idle(conn: ProxyConnection, idle_timeout: float) -> None:
    while True:
        idle = time.monotonic() - conn.last_command
        if idle >= idle_timeout:
            log.info("Closing a CDP client after %.0f s without a command", idle)
            return
        await asyncio.sleep(idle_timeout - idle)


async def cdp_proxy(websocket: WebSocket) -> None:
    """Serve ``ws://HOST:PORT/?signingKey=KEY`` (or the legacy ``?apiKey=&sessionId=``)."""
    registry: Registry = websocket.app.state.registry
    session = find_session(registry, websocket)
    if session is None:
        await websocket.send_denial_response(
            PlainTextResponse("invalid session or signingKey", status_code=401)
        )
        return
    files = SessionFiles(session.directory, registry.config.allow_file_urls)
    conn = ProxyConnection(websocket, files, registry.config.limits.max_cdp_backlog)
    if session.browser is not None:
        try:
            conn.channel = await session.browser.open_channel(conn.outbox.put)
        except (TimeoutError, CdpError) as exc:
            log.warning("Session %s: cannot reach its browser: %s", session.id, exc)
            await websocket.send_denial_response(
                PlainTextResponse("the session's browser is not reachable", status_code=502)
            )
            return
    await websocket.accept()
    recorder = CdpRecorder(session)
    registry.client_connected(session, conn)
    pumps = [
        asyncio.ensure_future(_client_to_browser(conn, recorder)),
        # Ends when the browser is gone, or the client stopped reading (conn.outbox.overflowed).
        asyncio.ensure_future(conn.outbox.send_to(conn.websocket.send_text, recorder.from_browser)),
        # The writer may be stuck behind what the client does not read: the overflow ends it all.
        asyncio.ensure_future(conn.outbox.wait_overflow()),
    ]
    idle_timeout = registry.config.cdp_idle_timeout
    if idle_timeout:
        pumps.append(asyncio.ensure_future(_close_when_idle(conn, idle_timeout)))
    try:
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
    except WebSocketDisconnect:
        pass
    finally:
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        if conn.channel is not None:
            with contextlib.suppress(Exception):
                await conn.channel.close()
        if conn.outbox.overflowed:
            await close_backlogged(websocket, conn.outbox, session)
        else:
            with contextlib.suppress(Exception):
                await websocket.close()
        registry.client_disconnected(session, conn)


async def close_backlogged(websocket: WebSocket, outbox: Outbox, session: Session) -> None:
    """Close a client whose ``outbox`` overflowed, with the reason, and log it (once per client)."""
    code, template = BACKLOG_CLOSE
    reason = template.format(describe_size(outbox.limit))
    log.warning("Session %s: closing a CDP client that stopped reading: %s", session.id, reason)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(websocket.close(code=code, reason=reason), BACKLOG_CLOSE_WAIT)
