"""
Fixtures for the security tests of ``browserbase-local``.

- ``small``: one API-only server per module with small limits (see ``net_helpers.SMALL_LIMITS``), so
  every limit is reached with a few kilobytes and the tests stay fast.
- ``api``: an HTTP client for it with the API key.
- ``make_server``: a server with other options, stopped after the test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from net_helpers import SMALL_LIMITS, client, start_server

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import httpx

    from airflow_provider_browserbase.local.server import LocalServer


@pytest.fixture(scope="module")
def small() -> Iterator[LocalServer]:
    server = start_server(limits=SMALL_LIMITS)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(small: LocalServer) -> Iterator[httpx.Client]:
    with client(small) as http:
        yield http


@pytest.fixture
def make_server() -> Iterator[Callable[..., LocalServer]]:
    started: list[LocalServer] = []

    def factory(**options: Any) -> LocalServer:
        started.append(start_server(**options))
        return started[-1]

    yield factory
    for server in started:
        server.stop()
