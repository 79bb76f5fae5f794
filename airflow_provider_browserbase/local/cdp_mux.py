"""
Share one Chromium's ``--remote-debugging-pipe`` between many CDP connections.

Chromium runs without a debugging port, so no local user can reach it without going through the server.
Every connection (a proxy client, the live view, the server itself) gets its own browser-level CDP session
from ``Target.attachToBrowserTarget`` and sees the browser as if it had its own websocket: the multiplexer
adds that ``sessionId`` to its commands that name none, renumbers ids per connection, routes answers and
events back by ``sessionId`` (child sessions the connection attaches included) and strips its browser
``sessionId`` on the way back. A connection may only name sessions it owns.

Chromium writes compact JSON with ``"id"`` first and the ``"sessionId"`` it adds last, so answers and
events are routed without parsing them (a 16 MB screenshot passes as a string); anything else is parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_browserbase.local.cdp import CdpError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

_HEAD_ID = re.compile(r'\{"id":(-?\d+),')
_HEAD_METHOD = re.compile(r'\{"method":"([A-Za-z.]+)"')
_TAIL_SESSION = re.compile(r',"sessionId":"([^"\\]*)"\}\s*$')
# The tail is searched for in the last characters only: a screenshot answer is megabytes long.
_TAIL_CHARS = 512
# Answers that create a session the asking connection then owns.
_ATTACHING = frozenset({"Target.attachToTarget", "Target.attachToBrowserTarget"})
# Events about sessions: parsed to keep ownership current.
_SESSION_EVENTS = frozenset({"Target.attachedToTarget", "Target.detachedFromTarget"})
# Commands that name a session in their params rather than in ``sessionId``.
_PARAM_SESSION = frozenset({"Target.sendMessageToTarget", "Target.detachFromTarget"})


def error_answer(call_id: Any, message: str, code: int = -32000, session_id: Any = None) -> str:
    """A CDP error answer shaped as Chromium's, with the command's ``sessionId`` (clients route by it)."""
    answer: dict[str, Any] = {"id": call_id, "error": {"code": code, "message": message}}
    if isinstance(session_id, str):
        answer["sessionId"] = session_id
    return json.dumps(answer)


def _tail(text: str) -> re.Match[str] | None:
    return _TAIL_SESSION.search(text, max(0, len(text) - _TAIL_CHARS))


@dataclass
class _Pending:
    channel: CdpChannel | None
    client_id: Any
    method: str
    future: asyncio.Future[dict[str, Any]] | None = None


class CdpChannel:
    """
    One connection's view of the browser: a browser-level session and the child sessions it attached.

    Made by :meth:`CdpMux.open_channel`; ``deliver`` receives every answer and event meant for it, as
    JSON text, or ``None`` once the browser is gone.
    """

    def __init__(self, mux: CdpMux, root: str, deliver: Callable[[str | None], None]) -> None:
        self.mux = mux
        self.root = root
        self.deliver = deliver
        self.owned: set[str] = {root}
        self.closed = False

    def send(self, message: dict[str, Any]) -> str | None:
        """
        Forward a client's command; return an error answer instead when it names a session it does not own.

        :param message: The parsed command (``id``, ``method``, optional ``params`` and ``sessionId``).
        """
        call_id = message.get("id")
        method = message.get("method")
        session_id = message.get("sessionId")
        if not isinstance(call_id, int) or isinstance(call_id, bool):
            return error_answer(call_id, "Message must have integer 'id' property", -32600, session_id)
        if not isinstance(method, str):
            return error_answer(call_id, "Message must have string 'method' property", -32600, session_id)
        if self.closed:
            return error_answer(call_id, "The CDP connection is closed", session_id=session_id)
        if session_id is not None and session_id not in self.owned:
            why = f"Session with given id not found: {session_id!r} is not yours"
            return error_answer(call_id, why, session_id=session_id)
        params = message.get("params")
        named = params.get("sessionId") if isinstance(params, dict) else None
        if method in _PARAM_SESSION and named is not None and named not in self.owned:
            return error_answer(call_id, f"{method}: session {named!r} is not yours", session_id=session_id)
        upstream = self.mux.next_id()
        self.mux.pending[upstream] = _Pending(self, call_id, method)
        self.mux.write(_outgoing(message, upstream, self.root))
        return None

    async def close(self) -> None:
        """Detach the browser-level session (and with it every child session it attached)."""
        if self.closed:
            return
        self.closed = True
        for session_id in self.owned:
            if self.mux.owners.get(session_id) is self:
                del self.mux.owners[session_id]
        for key in [k for k, p in self.mux.pending.items() if p.channel is self]:
            del self.mux.pending[key]
        with contextlib.suppress(CdpError, asyncio.TimeoutError):
            await self.mux.call("Target.detachFromTarget", {"sessionId": self.root}, timeout=5.0)


def _outgoing(message: dict[str, Any], upstream: int, root: str) -> str:
    # Always encoded again from what was checked, never the client's text: with a key given twice
    # ({"params": A, "params": B}) Python keeps the last one, and Chromium might act on the first.
    out = dict(message)
    out["id"] = upstream
    out.setdefault("sessionId", root)
    return json.dumps(out)


class CdpMux:
    """
    The multiplexer over one browser's pipe.

    :param write: Sends one JSON message to Chromium (the pipe adds the NUL byte).
    """

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self.pending: dict[int, _Pending] = {}
        self.owners: dict[str, CdpChannel] = {}
        self._ids = itertools.count(1)
        self.closed = False

    def next_id(self) -> int:
        return next(self._ids)

    async def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0) -> Any:
        """Send a command on the pipe's own connection (no session) and return its result."""
        if self.closed:
            raise CdpError(f"{method}: the browser is gone")
        upstream = self.next_id()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[upstream] = _Pending(None, upstream, method, future)
        self.write(json.dumps({"id": upstream, "method": method, "params": params or {}}))
        try:
            reply = await asyncio.wait_for(future, timeout)
        finally:
            self.pending.pop(upstream, None)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    async def open_channel(self, deliver: Callable[[str | None], None]) -> CdpChannel:
        """Attach a new browser-level session and return the channel that speaks through it."""
        result = await self.call("Target.attachToBrowserTarget", timeout=10.0)
        channel = CdpChannel(self, result["sessionId"], deliver)
        self.owners[channel.root] = channel
        return channel

    def feed(self, text: str) -> None:
        """Route one message Chromium wrote."""
        head = _HEAD_ID.match(text)
        if head is not None:
            self._answer(int(head.group(1)), text, head.end())
            return
        event = _HEAD_METHOD.match(text)
        if event is None:
            self._slow(text)
            return
        tail = _tail(text)
        self._event(event.group(1), tail.group(1) if tail else None, text, tail.start() if tail else None)

    def _slow(self, text: str) -> None:
        # Not Chromium's usual layout: parse it, lay it out that way (id or method first, sessionId
        # last, compact) and route it like any other.
        try:
            message = json.loads(text)
        except ValueError:
            log.warning("Chromium wrote a message that is not JSON (%d characters)", len(text))
            return
        if not isinstance(message, dict):
            return
        session_id = message.pop("sessionId", None)
        first = "id" if isinstance(message.get("id"), int) else "method"
        if not isinstance(message.get(first), (int, str)):
            return
        ordered = {first: message.pop(first), **message}
        if session_id is not None:
            ordered["sessionId"] = session_id
        compact = json.dumps(ordered, separators=(",", ":"))
        if _HEAD_ID.match(compact) or _HEAD_METHOD.match(compact):
            self.feed(compact)

    def _answer(self, upstream: int, text: str, head_end: int) -> None:
        pending = self.pending.pop(upstream, None)
        if pending is None:
            return
        if pending.future is not None:
            if not pending.future.done():
                pending.future.set_result(json.loads(text))
            return
        channel = pending.channel
        assert channel is not None
        if pending.method in _ATTACHING:
            with contextlib.suppress(ValueError, AttributeError, TypeError):
                created = json.loads(text).get("result", {}).get("sessionId")
                if isinstance(created, str):
                    self._own(channel, created)
        tail = _tail(text)
        body = text[head_end:]
        if tail is not None and tail.group(1) == channel.root:
            body = text[head_end : tail.start()] + "}"
        channel.deliver(f'{{"id":{pending.client_id},' + body)

    def _event(self, method: str, session_id: str | None, text: str, tail_start: int | None) -> None:
        channel = self.owners.get(session_id) if session_id is not None else None
        if channel is None:
            return  # the pipe's own connection, or a session already detached
        if method in _SESSION_EVENTS:
            with contextlib.suppress(ValueError, AttributeError):
                child = json.loads(text).get("params", {}).get("sessionId")
                if isinstance(child, str) and method == "Target.attachedToTarget":
                    self._own(channel, child)
                elif isinstance(child, str) and child != channel.root:
                    channel.owned.discard(child)
                    if self.owners.get(child) is channel:
                        del self.owners[child]
        if session_id == channel.root and tail_start is not None:
            text = text[:tail_start] + "}"
        channel.deliver(text)

    def _own(self, channel: CdpChannel, session_id: str) -> None:
        if channel.closed:
            return
        channel.owned.add(session_id)
        self.owners[session_id] = channel

    def close(self) -> None:
        """The browser is gone: fail waiting calls and tell every channel."""
        if self.closed:
            return
        self.closed = True
        for pending in self.pending.values():
            if pending.future is not None and not pending.future.done():
                pending.future.set_result({"error": {"message": "the browser is gone"}})
        self.pending.clear()
        for channel in {id(c): c for c in self.owners.values()}.values():
            channel.closed = True
            channel.deliver(None)
        self.owners.clear()


class Outbox:
    """
    A client's queue of messages on their way to its socket, bounded in characters (bytes, for ASCII JSON).

    Messages wait here while the socket writes the one before; a client that stops reading would make
    them wait for good (a screenshot each time it asks), so past ``limit`` the outbox empties itself,
    refuses everything after, sets :attr:`overflowed` and ends :meth:`wait_overflow`, and :meth:`get`
    answers ``None``: the proxy then closes that client (its writer may be stuck behind the unread data).
    One message always fits in an empty outbox: a message is as large as the client's own command asked
    for (a full-page screenshot can be tens of MB); only a backlog is refused.

    :param limit: Characters that may wait at once (``--max-cdp-backlog``).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.overflowed = False
        self._overflow = asyncio.Event()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()

    def put(self, text: str | None) -> None:
        """Queue ``text`` (a channel's ``deliver``); ``None`` says the browser is gone."""
        if self.overflowed:
            return
        if text is not None and self.size and self.size + len(text) > self.limit:
            self.overflowed = True
            self._overflow.set()
            while not self._queue.empty():  # free the backlog now, not when the client goes
                self._queue.get_nowait()
            self.size = 0
            text = None
        elif text is not None:
            self.size += len(text)
        self._queue.put_nowait(text)

    async def get(self) -> str | None:
        """The next message, or ``None`` once the browser is gone or the outbox overflowed."""
        text = await self._queue.get()
        if text is not None:
            self.size -= len(text)
        return text

    async def wait_overflow(self) -> None:
        """Return once the outbox has overflowed."""
        await self._overflow.wait()

    async def send_to(
        self, send_text: Callable[[str], Awaitable[object]], on_message: Callable[[str], None] | None = None
    ) -> None:
        """
        Write the messages to ``send_text`` (a socket's) until :meth:`get` answers ``None``.

        :param on_message: sees each message before it is written (the CDP proxy's recorder).
        """
        while True:
            text = await self.get()
            if text is None:
                return
            if on_message is not None:
                on_message(text)
            await send_text(text)


class MuxCdpConnection:
    """
    A :class:`~airflow_provider_browserbase.local.cdp.CdpConnection` for the server's own calls.

    Open it with :meth:`open`; it is a channel like a client's, trusted (no command filtering).
    """

    def __init__(self) -> None:
        self._channel: CdpChannel | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: list[Callable[[dict[str, Any]], None]] = []

    @classmethod
    async def open(cls, mux: CdpMux) -> MuxCdpConnection:
        connection = cls()
        connection._channel = await mux.open_channel(connection._deliver)
        return connection

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        if self._channel is None or self._channel.closed:
            raise CdpError(f"{method}: the CDP connection is closed")
        call_id = next(self._ids)
        message: dict[str, Any] = {"id": call_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = future
        try:
            refused = self._channel.send(message)
            if refused is not None:
                raise CdpError(f"{method}: {json.loads(refused)['error']['message']}")
            reply = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise CdpError(f"{method}: no answer within {timeout:g} s") from None
        finally:
            self._waiting.pop(call_id, None)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error'].get('message')}")
        result = reply.get("result", {})
        return result if isinstance(result, dict) else {}

    def add_listener(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        self._listeners.append(callback)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return remove

    async def close(self) -> None:
        self._fail_waiting("the CDP connection was closed")
        if self._channel is not None:
            await self._channel.close()

    def _fail_waiting(self, why: str) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_result({"error": {"message": why}})

    def _deliver(self, text: str | None) -> None:
        if text is None:
            self._fail_waiting("the browser is gone")
            return
        try:
            message = json.loads(text)
        except ValueError:
            return
        call_id = message.get("id")
        if call_id is not None:
            future = self._waiting.get(call_id)
            if future is not None and not future.done():
                future.set_result(message)
            return
        for listener in list(self._listeners):
            try:
                listener(message)
            except Exception:
                log.exception("A CDP event listener failed")
