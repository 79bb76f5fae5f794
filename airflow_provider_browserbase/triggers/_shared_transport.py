"""One HTTP connection pool per event loop, shared by every session trigger running on it."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


class _BorrowedTransport(httpx.AsyncBaseTransport):
    """
    Send through a pooled transport without owning it.

    A hook closes its client when its trigger ends; closing must not tear down the pool the other
    triggers of the loop are still using, so ``aclose`` does nothing here and the registry closes the
    pool when its last user leaves.

    :param pool: the transport holding the connections.
    """

    def __init__(self, pool: httpx.AsyncHTTPTransport) -> None:
        self._pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._pool.handle_async_request(request)

    async def aclose(self) -> None:
        return None


@dataclass
class _Pool:
    transport: httpx.AsyncHTTPTransport
    users: int = 0


# Connections belong to the loop that opened them, hence one pool per loop (the triggerer has one).
_POOLS: dict[asyncio.AbstractEventLoop, _Pool] = {}


@asynccontextmanager
async def shared_async_transport() -> AsyncIterator[httpx.AsyncBaseTransport]:
    """Borrow the running loop's pool for the duration of the block; the last user closes it."""
    loop = asyncio.get_running_loop()
    pool = _POOLS.get(loop)
    if pool is None:
        pool = _POOLS[loop] = _Pool(httpx.AsyncHTTPTransport())
    pool.users += 1
    try:
        yield _BorrowedTransport(pool.transport)
    finally:
        pool.users -= 1
        if pool.users == 0 and _POOLS.get(loop) is pool:
            del _POOLS[loop]
            await pool.transport.aclose()


def pool_users(loop: asyncio.AbstractEventLoop) -> int:
    """How many triggers currently share ``loop``'s pool (0 when it has none)."""
    pool = _POOLS.get(loop)
    return pool.users if pool else 0
