"""
Who may talk to the server: the ``Host`` of every request and the ``Origin`` of every WebSocket.

A web page the developer visits can make the browser send requests to ``127.0.0.1`` (its answers stay
hidden from the page) and, through DNS rebinding, under its own name (``evil.example`` resolving to
127.0.0.1), whose answers the page can read. Checking ``Host`` against the names the server is known by
stops the second; checking ``Origin`` on WebSocket upgrades stops pages elsewhere from opening a CDP
socket, which browsers allow across origins. Clients that are not browser pages (Playwright, scripts)
send no ``Origin`` and are not affected.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_browserbase.local.config import LOOPBACK_NAMES

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from airflow_provider_browserbase.local.config import LocalConfig

log = logging.getLogger(__name__)

# Chromium's own DevTools app; no web page can claim this origin. It is accepted on the page sockets
# debuggerUrl opens (inspector.py) only: nothing else here is meant for the DevTools frontend.
DEVTOOLS_ORIGIN = "devtools://devtools"
DEVTOOLS_SOCKET = re.compile(r"^/sessions/[^/]+/devtools/page/[^/]+$")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def split_host(value: str) -> tuple[str, int | None]:
    """``"[::1]:8787"`` -> ``("::1", 8787)``; ``"Example.com"`` -> ``("example.com", None)``."""
    try:
        parts = urlsplit(f"//{value}")
        return (parts.hostname or "").lower(), parts.port
    except ValueError:  # a port that is no number, or out of range
        return "", None


class HostOriginMiddleware:
    """
    Refuse requests whose ``Host`` is not a name of this server, and WebSockets from foreign pages.

    Accepted names: the loopback names, the bound ``host``, and ``config.allowed_hosts`` (``"*"``: any).
    A WebSocket ``Origin`` is accepted when absent, when it is Chromium's DevTools on a page's DevTools
    socket (``/sessions/<id>/devtools/page/<targetId>``), or when it names
    this server: an accepted host name and the port the request came to.

    :param app: The wrapped ASGI app.
    :param config: Server settings (``host``, ``port``, ``allowed_hosts``).
    """

    def __init__(self, app: ASGIApp, config: LocalConfig) -> None:
        self.app = app
        self.any_host = "*" in config.allowed_hosts
        self.names = frozenset(
            name.strip("[]").lower() for name in (*LOOPBACK_NAMES, config.host, *config.allowed_hosts)
        )
        self.port = config.port
        self.shown_names = ", ".join(sorted(self.names - {"*"}))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k: v for k, v in scope["headers"] if k in (b"host", b"origin")}
        problem = self._host_problem(headers.get(b"host"))
        if problem is None and scope["type"] == "websocket":
            problem = self._origin_problem(headers.get(b"origin"), headers.get(b"host"), scope["path"])
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, message = problem
        await refuse(scope, receive, send, status, message)

    def known(self, name: str) -> bool:
        return self.any_host or name in self.names

    def _host_problem(self, raw: bytes | None) -> tuple[int, str] | None:
        # HTTP/1.1 requires Host; only an HTTP/1.0 script may omit it, and no browser does.
        if raw is None:
            return None
        value = raw.decode("latin-1")
        name, _ = split_host(value)
        if self.known(name):
            return None
        return 400, (
            f"misdirected request: unknown host {value!r} in the Host header. browserbase-local answers "
            f"to {self.shown_names}; start it with --allowed-host NAME to accept another name"
        )

    def _origin_problem(self, raw: bytes | None, host: bytes | None, path: str) -> tuple[int, str] | None:
        if raw is None:
            return None
        origin = raw.decode("latin-1")
        if origin == DEVTOOLS_ORIGIN and DEVTOOLS_SOCKET.match(path):
            return None
        parts = urlsplit(origin)
        try:
            origin_port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        except ValueError:
            origin_port = None
        _, host_port = split_host(host.decode("latin-1")) if host else ("", None)
        same_server = (
            parts.scheme in ("http", "https")
            and self.known((parts.hostname or "").lower())
            and origin_port in {host_port or _DEFAULT_PORTS["http"], self.port}
        )
        if same_server:
            return None
        return 403, (
            f"WebSocket from origin {origin!r} refused: only clients without an Origin (Playwright, "
            "scripts) and pages served by this browserbase-local may open a socket"
        )


async def refuse(
    scope: Scope, receive: Receive, send: Send, status: int, message: str, *, close: bool = False
) -> None:
    """
    Answer an HTTP request or a WebSocket handshake with Browserbase's error body.

    :param close: Close the connection after the answer (for a body the server will not read).
    """
    body = json.dumps({"statusCode": status, "error": HTTPStatus(status).phrase, "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:  # a server without the denial extension answers a plain 403
        await send({"type": "websocket.close", "code": 1008})


# Set in the task of a WebSocket whose handshake the app refused (see RefusedWebSocketLog).
_handshake_refused: contextvars.ContextVar[bool] = contextvars.ContextVar("handshake_refused", default=False)
# What uvicorn's WebSocket protocol logs when an app answers a handshake with an HTTP response (uvicorn
# 0.54 does not count such a denial as the end of the handshake, although ASGI defines it so).
_UVICORN_NO_HANDSHAKE = "ASGI callable returned without completing handshake."
# The start of uvicorn's per-handshake lines ('%s - "WebSocket %s" 403', '... [accepted]'), whose path
# argument carries the query string: a connect URL's signingKey, a live view's token.
_UVICORN_WEBSOCKET_LINE = '%s - "WebSocket %s"'
_REASON_CHARS = 300


class RefusedWebSocketLog:
    """
    Log one WARNING line of ours for each WebSocket handshake the app refuses, with its reason.

    A refusal (a wrong signing key, a foreign ``Origin``, too many connections) is expected behaviour, not
    a server error: uvicorn's ERROR line about it is silenced by :class:`UvicornWebSocketLogFilter`. The
    line names the path without its query string and the answer's message, never a key or a token.

    :param app: The wrapped ASGI app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        denial: dict[str, Any] = {}

        async def watched(message: Message) -> None:
            if message["type"] == "websocket.http.response.start":
                denial.update(status=message["status"], body=b"")
            elif message["type"] == "websocket.http.response.body" and denial:
                denial["body"] += message.get("body", b"")
                if not message.get("more_body", False):  # logged before the client has the answer
                    _log_refusal(scope, denial["status"], denial["body"])
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            if denial:
                # Set here, in the task uvicorn runs the app in (the inner app may use task groups).
                _handshake_refused.set(True)


def _log_refusal(scope: Scope, status: int, body: bytes) -> None:
    client = scope.get("client")
    log.warning(
        "Refused a WebSocket to %s from %s: %d %s",
        scope.get("path", "?"),
        f"{client[0]}:{client[1]}" if client else "an unknown client",
        status,
        _reason(body),
    )


def _reason(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    try:
        message = json.loads(text).get("message", text)
    except (ValueError, AttributeError):
        message = text
    message = str(message)
    return message if len(message) <= _REASON_CHARS else message[:_REASON_CHARS] + "..."


class UvicornWebSocketLogFilter(logging.Filter):
    """
    Keep uvicorn's ``uvicorn.error`` logger quiet about refused handshakes and WebSocket secrets.

    Drops its ERROR line for a handshake the app refused on purpose (:class:`RefusedWebSocketLog` logs
    it instead), and cuts the query string off the path of its INFO line for every handshake.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == _UVICORN_NO_HANDSHAKE and _handshake_refused.get():
            return False
        if isinstance(record.msg, str) and record.msg.startswith(_UVICORN_WEBSOCKET_LINE):
            args = record.args
            if isinstance(args, tuple) and len(args) >= 2 and isinstance(args[1], str):
                record.args = (args[0], args[1].split("?", 1)[0], *args[2:])
        return True


_UVICORN_FILTER = UvicornWebSocketLogFilter()


def quiet_uvicorn_websocket_log() -> None:
    """Install :class:`UvicornWebSocketLogFilter` on uvicorn's logger (once; after its logging is set up)."""
    logging.getLogger("uvicorn.error").addFilter(_UVICORN_FILTER)
