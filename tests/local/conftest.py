"""
Fixtures for the ``browserbase-local`` tests.

- ``server``: one server with real Chromium per test module (pool off, three live sessions).
- ``make_server``: a server with special options (short timeouts, no browser...), stopped after the test.

Every server these tests start records its data folder in ``STARTED_DIRS``; ``test_zz_no_leftovers.py``
checks at the end that none of them, and no Chromium using them, is left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from local_helpers import client, start_server

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import httpx

    from airflow_provider_browserbase.local.server import LocalServer


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    running = start_server(max_sessions=3)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def api(server: LocalServer) -> Iterator[httpx.Client]:
    with client(server) as http:
        yield http


@pytest.fixture
def make_server() -> Iterator[Callable[..., LocalServer]]:
    started: list[LocalServer] = []

    def factory(**options: Any) -> LocalServer:
        started.append(start_server(**options))
        return started[-1]

    yield factory
    for running in started:
        running.stop()
