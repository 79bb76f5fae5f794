"""The shared pool lets at most ``MAX_IN_FLIGHT`` requests into httpcore, and frees a slot per closed body."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from airflow_provider_browserbase.triggers import _shared_transport
from airflow_provider_browserbase.triggers._shared_transport import (
    MAX_IN_FLIGHT,
    _BorrowedTransport,
    shared_async_transport,
)


class CountingPool(httpx.AsyncHTTPTransport):
    """Stands in for the pooled transport: answers after a pause, counting requests in flight."""

    def __init__(self, fail_every: int = 0) -> None:
        super().__init__()
        self.in_flight = 0
        self.peak = 0
        self.fail_every = fail_every
        self.seen = 0
        self.failures = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        number = self.seen  # read before the pause: other requests move ``seen`` on meanwhile
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0.001)
        if self.fail_every and number % self.fail_every == 0:
            self.in_flight -= 1
            self.failures += 1
            raise httpx.ConnectError("refused")
        pool = self

        class Body(httpx.AsyncByteStream):
            async def __aiter__(self):  # type: ignore[no-untyped-def]
                await asyncio.sleep(0.001)  # the connection stays busy until the body is read
                yield b'{"ok": true}'

            async def aclose(self) -> None:
                pool.in_flight -= 1

        return httpx.Response(200, stream=Body())


async def test_requests_beyond_the_limit_wait_for_a_closed_body() -> None:
    pool = CountingPool(fail_every=7)
    gate = asyncio.Semaphore(MAX_IN_FLIGHT)
    async with httpx.AsyncClient(transport=_BorrowedTransport(pool, gate), base_url="http://x") as client:

        async def one() -> int:
            try:
                return (await client.get("/")).status_code
            except httpx.ConnectError:
                return 0

        codes = await asyncio.gather(*(one() for _ in range(10 * MAX_IN_FLIGHT)))
    assert pool.peak == MAX_IN_FLIGHT
    assert pool.in_flight == 0
    assert pool.failures > 0
    assert codes.count(0) == pool.failures
    assert codes.count(200) == len(codes) - pool.failures
    # Every slot came back, failures included.
    assert gate._value == MAX_IN_FLIGHT


async def test_the_loop_pool_is_bounded_and_keeps_its_connections_alive() -> None:
    async with shared_async_transport():
        pool = _shared_transport._POOLS[asyncio.get_running_loop()]
        assert pool.gate._value == MAX_IN_FLIGHT
        limits = pool.transport._pool  # httpcore's pool
        assert limits._max_connections == MAX_IN_FLIGHT
        assert limits._max_keepalive_connections == MAX_IN_FLIGHT


@pytest.mark.parametrize("count", [1, 3])
async def test_a_streamed_body_closed_twice_frees_one_slot(count: int) -> None:
    gate = asyncio.Semaphore(2)
    transport = _BorrowedTransport(CountingPool(), gate)
    response = await transport.handle_async_request(httpx.Request("GET", "http://x/"))
    assert gate._value == 1
    for _ in range(count):
        await response.aclose()
    assert gate._value == 2
