"""
Fixtures for the contract suite: Browserbase's official SDK (``browserbase``, pinned in the ``test``
extra) as an oracle that neither this provider's models nor ``browserbase-local`` wrote.

- ``sdk``: the SDK's client on the API-only ``browserbase-local`` (``api_server``), validating every
  answer strictly (``_strict_response_validation=True``), never retrying.
- ``contract_conn``: a ``browserbase`` connection id pointing at the same server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from support import connection_uri_env

if TYPE_CHECKING:
    from collections.abc import Iterator

    from browserbase import Browserbase

    from airflow_provider_browserbase.local.server import LocalServer


def strict_sdk(server: LocalServer) -> Browserbase:
    from browserbase import Browserbase

    return Browserbase(
        api_key=server.api_key, base_url=server.base_url, max_retries=0, _strict_response_validation=True
    )


@pytest.fixture
def sdk(api_server: LocalServer) -> Iterator[Browserbase]:
    with strict_sdk(api_server) as client:
        yield client


@pytest.fixture
def contract_conn(api_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(
        "AIRFLOW_CONN_BROWSERBASE_CONTRACT", connection_uri_env(api_server.base_url, api_server.api_key)
    )
    return "browserbase_contract"


@pytest.fixture
def browser_sdk(local_server: LocalServer) -> Iterator[Browserbase]:
    """The strict SDK client on ``browserbase-local`` with real Chromium (for live URLs and CDP logs)."""
    with strict_sdk(local_server) as client:
        yield client
