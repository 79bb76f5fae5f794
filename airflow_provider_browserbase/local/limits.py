"""
Bounds on what one client costs the server: request body sizes, slow requests, header size.

Sizes are enforced while the body streams in, so a 200 MB body is refused after the first bytes past
the limit, not after it sat in memory. Slow clients are closed: a request must send its headers within
``header_timeout`` of its first byte (or of the connection, for the first request), and its body may not
pause longer than ``body_timeout``. Past ``max_connections`` open connections (HTTP and WebSocket alike)
a request or a WebSocket handshake answers 503.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

from airflow_provider_browserbase.local.errors import ApiError
from airflow_provider_browserbase.local.network import refuse

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from airflow_provider_browserbase.local.config import ServerLimits

log = logging.getLogger(__name__)

# Request line and headers of one request; h11's own default is 16 KiB.
MAX_HEADER_BYTES = 64 * 2**10
# Multipart framing around an upload (boundaries, part headers) on top of the file itself.
MULTIPART_SLACK = 64 * 2**10

_UPLOADS = re.compile(r"^/v1/sessions/[^/]+/uploads/?$")
_EXTENSIONS = re.compile(r"^/v1/extensions/?$")


class BodyTooLargeError(ApiError):
    """Raised while reading a body that passes its limit; answered 413."""

    def __init__(self, what: str, limit: int, flag: str) -> None:
        # Connection: close, so the rest of the body is not read only to be thrown away.
        message = f"{what} is larger than {describe_size(limit)} (the server's {flag})"
        super().__init__(413, message, {"connection": "close"})


class BodyTimeoutError(ApiError):
    """Raised when a request body pauses longer than the body timeout; answered 408."""

    def __init__(self, seconds: float) -> None:
        message = f"the request body paused for more than {seconds:g} s (--body-timeout)"
        super().__init__(408, message, {"connection": "close"})


def describe_size(size: int) -> str:
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def body_limit(limits: ServerLimits, method: str, path: str) -> tuple[str, int, str]:
    """``(what, bytes, flag)`` for a request: uploads and extensions have their own, larger limits."""
    if method == "POST" and _UPLOADS.match(path):
        return "the upload", limits.max_upload_size + MULTIPART_SLACK, "--max-upload-size"
    if method == "POST" and _EXTENSIONS.match(path):
        return "the extension upload", limits.max_extension_size + MULTIPART_SLACK, "--max-extension-size"
    return "the request body", limits.max_body_size, "--max-body-size"


class BodyLimitMiddleware:
    """
    Refuse request bodies over their limit (413) and bodies that stall (408), as they stream in.

    A ``Content-Length`` over the limit is answered at once, before the app runs; a chunked body is
    counted and the read that passes the limit raises :class:`BodyTooLargeError` in the app.

    :param app: The wrapped ASGI app.
    :param limits: The server's limits.
    """

    def __init__(self, app: ASGIApp, limits: ServerLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        what, limit, flag = body_limit(self.limits, scope["method"], scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            error = BodyTooLargeError(what, limit, flag)
            await refuse(scope, receive, send, 413, error.message, close=True)
            return
        timeout = self.limits.body_timeout
        state: dict[str, Any] = {"received": 0, "done": False}

        async def limited() -> Message:
            if state["done"]:  # after the body only http.disconnect comes: wait for it as long as needed
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except TimeoutError:
                raise BodyTimeoutError(timeout) from None
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    raise BodyTooLargeError(what, limit, flag)
                state["done"] = not message.get("more_body", False)
            else:
                state["done"] = True
            return message

        await self.app(scope, limited, send)


class OpenConnections:
    """
    How many connections the server holds, read from uvicorn once :func:`.server.uvicorn_server` binds it.

    uvicorn's own ``limit_concurrency`` answers 503 to HTTP requests only: a WebSocket handshake passes it
    (uvicorn 0.54), so a client could hold any number of sockets. Its count is the right one, though: every
    open connection (idle keep-alive, in-flight request, WebSocket) and every request still running.
    """

    def __init__(self) -> None:
        self._state: Any = None

    def bind(self, server_state: Any) -> None:
        """:param server_state: The ``uvicorn.Server.server_state`` (``connections`` and ``tasks``)."""
        self._state = server_state

    def __call__(self) -> int:
        if self._state is None:  # an app served by something else than uvicorn_server: no count
            return 0
        return max(len(self._state.connections), len(self._state.tasks))


class ConnectionLimitMiddleware:
    """
    Answer 503 to a request or a WebSocket handshake that would pass ``max_connections``.

    The count includes the connection asking, so ``max_connections`` connections are served at once. A
    refused handshake is answered before it is accepted (an HTTP 503 with a message).

    :param app: The wrapped ASGI app.
    :param limits: The server's limits.
    :param count: The number of open connections (an :class:`OpenConnections`).
    """

    def __init__(self, app: ASGIApp, limits: ServerLimits, count: OpenConnections) -> None:
        self.app = app
        self.limit = limits.max_connections
        self.count = count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.count() <= self.limit:
            await self.app(scope, receive, send)
            return
        message = (
            f"too many connections: browserbase-local serves at most {self.limit} at once "
            "(--max-connections); try again once one has closed"
        )
        if scope["type"] == "http":  # a refused WebSocket is logged by RefusedWebSocketLog
            log.warning("Refused a request to %s: %s", scope["path"], message)
        await refuse(scope, receive, send, 503, message, close=True)


def deadline_protocol(base: type[Any], header_timeout: float) -> type[Any]:
    """
    A subclass of uvicorn's HTTP protocol ``base`` that closes connections slow to send headers.

    uvicorn closes idle keep-alive connections, but not one that sent half a request, nor a new one
    that sent nothing: each would stay open for good. Here a request must complete its headers (at most
    :data:`MAX_HEADER_BYTES`) within ``header_timeout`` of the connection or of its first byte.
    """

    class HeaderDeadlineProtocol(base):
        _header_timer: asyncio.TimerHandle | None = None
        _in_headers = False
        _header_bytes = 0

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if not self._awaiting_headers():
                self._disarm()
                return
            if self._in_headers:
                self._header_bytes += len(data)
                if self._header_bytes > MAX_HEADER_BYTES:
                    self.transport.close()
                    return
            self._arm()

        # httptools' callbacks: a request starts, its headers are complete. httptools buffers a header
        # until it is complete, with no limit of its own; h11 has one (h11_max_incomplete_event_size)
        # and never calls these.
        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_headers = True
            self._header_bytes = 0

        def on_headers_complete(self) -> None:
            self._in_headers = False
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _awaiting_headers(self) -> bool:
            cycle = getattr(self, "cycle", None)
            return cycle is None or cycle.response_complete

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = asyncio.get_running_loop().call_later(header_timeout, self._expired)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expired(self) -> None:
            self._header_timer = None
            # After a WebSocket upgrade the transport belongs to the WebSocket protocol: leave it.
            if self.transport.get_protocol() is self and self._awaiting_headers():
                self.transport.close()

    HeaderDeadlineProtocol.__name__ = f"HeaderDeadline{base.__name__}"
    return HeaderDeadlineProtocol
