"""One HTTP connection pool per event loop, shared by every session trigger running on it."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


# Requests in flight on one loop's pool, and the pool's connections. httpcore matches every queued request
# against every connection whenever one frees: with 1,000 triggers polling at once that scan was most of
# the triggerer's CPU (the trigger-scale benchmark), so requests queue on a semaphore instead.
MAX_IN_FLIGHT = 32


class _GatedStream(httpx.AsyncByteStream):
    """A response body that frees its slot of the gate once closed (the connection is free then)."""

    def __init__(self, stream: httpx.AsyncByteStream, gate: asyncio.Semaphore) -> None:
        self._stream = stream
        self._gate: asyncio.Semaphore | None = gate

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._gate is not None:
                self._gate.release()
                self._gate = None


class _BorrowedTransport(httpx.AsyncBaseTransport):
    """
    Send through a pooled transport without owning it, at most ``MAX_IN_FLIGHT`` requests at a time.

    A hook closes its client when its trigger ends; closing must not tear down the pool the other
    triggers of the loop are still using, so ``aclose`` does nothing here and the registry closes the
    pool when its last user leaves.

    :param pool: the transport holding the connections.
    :param gate: the loop's limit on requests in flight, shared by every borrower.
    """

    def __init__(self, pool: httpx.AsyncHTTPTransport, gate: asyncio.Semaphore) -> None:
        self._pool = pool
        self._gate = gate

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._gate.acquire()
        try:
            response = await self._pool.handle_async_request(request)
        except BaseException:
            self._gate.release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _GatedStream(response.stream, self._gate)
        return response

    async def aclose(self) -> None:
        return None


@dataclass
class _Pool:
    transport: httpx.AsyncHTTPTransport
    gate: asyncio.Semaphore
    users: int = 0


def _new_pool() -> _Pool:
    # Every connection the gate lets in stays alive for the next poll instead of being reopened.
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
    return _Pool(httpx.AsyncHTTPTransport(limits=limits), asyncio.Semaphore(MAX_IN_FLIGHT))


# Connections belong to the loop that opened them, hence one pool per loop (the triggerer has one).
_POOLS: dict[asyncio.AbstractEventLoop, _Pool] = {}


@asynccontextmanager
async def shared_async_transport() -> AsyncIterator[httpx.AsyncBaseTransport]:
    """Borrow the running loop's pool for the duration of the block; the last user closes it."""
    loop = asyncio.get_running_loop()
    pool = _POOLS.get(loop)
    if pool is None:
        pool = _POOLS[loop] = _new_pool()
    pool.users += 1
    try:
        yield _BorrowedTransport(pool.transport, pool.gate)
    finally:
        pool.users -= 1
        if pool.users == 0 and _POOLS.get(loop) is pool:
            del _POOLS[loop]
            await pool.transport.aclose()


def pool_users(loop: asyncio.AbstractEventLoop) -> int:
    """How many triggers currently share ``loop``'s pool (0 when it has none)."""
    pool = _POOLS.get(loop)
    return pool.users if pool else 0
