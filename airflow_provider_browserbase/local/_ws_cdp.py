"""
A temporary :class:`~airflow_provider_browserbase.local.cdp.CdpConnection` over Chromium's DevTools websocket.

Each instance is its own websocket to ``browser.ws_url``, so its own browser-level CDP connection. It is
here only until the browser is reached over ``--remote-debugging-pipe``; nothing but
``BrowserProcess.open_cdp`` builds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from typing import TYPE_CHECKING, Any

import websockets

from airflow_provider_browserbase.local.cdp import CdpError

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)


class WsCdpConnection:
    """
    One websocket to Chromium: commands matched to answers by id, events fanned out to listeners.

    :param ws: The open websocket.
    """

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, ws_url: str, timeout: float = 10.0) -> WsCdpConnection:
        ws = await websockets.connect(
            ws_url, max_size=None, ping_interval=None, compression=None, open_timeout=timeout
        )
        return cls(ws)

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        if self._reader.done():
            raise CdpError(f"{method}: the CDP connection is closed")
        call_id = next(self._ids)
        message: dict[str, Any] = {"id": call_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        try:
            await self._ws.send(json.dumps(message))
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise CdpError(f"{method}: no answer within {timeout:.0f} s") from None
        except websockets.ConnectionClosed:
            raise CdpError(f"{method}: the CDP connection closed") from None
        finally:
            self._pending.pop(call_id, None)

    def add_listener(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        self._listeners.append(callback)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return remove

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader
        self._fail_pending("the CDP connection was closed")

    def _fail_pending(self, why: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CdpError(why))

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                message = json.loads(raw)
                call_id = message.get("id")
                if call_id is not None:
                    future = self._pending.get(call_id)
                    if future is None or future.done():
                        continue
                    if "error" in message:
                        error = message["error"]
                        future.set_exception(CdpError(f"{error.get('message')} ({error.get('code')})"))
                    else:
                        future.set_result(message.get("result", {}))
                    continue
                for listener in list(self._listeners):
                    try:
                        listener(message)
                    except Exception:
                        log.exception("A CDP event listener failed on %s", message.get("method"))
        except websockets.ConnectionClosed:
            pass
        finally:
            self._fail_pending("the CDP connection closed")
