"""
Fixtures for the reliability and security tests: servers with fault injection, and the no-leak checks.

- ``chromium_server``: ``browserbase-local`` with real Chromium and ``/_admin`` fault injection (module).
- ``api_fault_server``: the same without a browser (API-only sessions), for fast API-fault tests (module).
- ``rel_conn``: the connection id ``browserbase_reliability``, pointing at the server given by
  ``request.param`` or, without one, at ``api_fault_server``.

Every server stops at the end of its module; the fixture then asserts that no session was RUNNING before
the stop and that no Chromium process using the server's data folder is left afterwards.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any

import pytest
from reliability_helpers import (
    API_KEY,
    CONN_ENV,
    CONN_ID,
    FAULT_TALLY,
    RELIABILITY_DAGS,
    Admin,
    conn_json,
)
from support import chromium_pids

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_browserbase.local.server import LocalServer


def _serve(**options: Any) -> Iterator[LocalServer]:
    from airflow_provider_browserbase.local.server import LocalServer

    server = LocalServer(port=0, api_key=API_KEY, enable_admin=True, pool_size=0, **options).start()
    data_dir = server.data_dir
    admin = Admin(server)
    try:
        yield server
        admin.clear()
        admin.assert_no_running()
    finally:
        admin.close()
        server.stop()
        deadline = time.monotonic() + 10
        while (left := chromium_pids(data_dir)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == set(), f"Chromium processes left after the server stopped: {left}"
        assert not data_dir.exists(), f"the server left its data folder {data_dir}"


@pytest.fixture(scope="module")
def chromium_server() -> Iterator[LocalServer]:
    yield from _serve(max_sessions=4)


@pytest.fixture(scope="module")
def api_fault_server() -> Iterator[LocalServer]:
    yield from _serve(max_sessions=50, no_browser=True)


def _admin(server: LocalServer) -> Iterator[Admin]:
    """Fault injection for one test: no faults before or after it, and no session left running."""
    admin = Admin(server)
    admin.clear()
    try:
        yield admin
        admin.assert_no_running()
    finally:
        admin.clear()
        admin.close()


@pytest.fixture
def chromium_admin(chromium_server: LocalServer) -> Iterator[Admin]:
    yield from _admin(chromium_server)


@pytest.fixture
def api_admin(api_fault_server: LocalServer) -> Iterator[Admin]:
    yield from _admin(api_fault_server)


@pytest.fixture
def api_conn(api_fault_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """``browserbase_reliability`` pointing at the API-only fault server."""
    monkeypatch.setenv(CONN_ENV, conn_json(api_fault_server.base_url))
    return CONN_ID


@pytest.fixture
def chromium_conn(chromium_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """``browserbase_reliability`` pointing at the Chromium fault server."""
    monkeypatch.setenv(CONN_ENV, conn_json(chromium_server.base_url))
    return CONN_ID


@pytest.fixture
def reliability_bundle(monkeypatch: pytest.MonkeyPatch) -> str:
    """Add ``tests/reliability/dags`` as a DAG bundle, so ``dag.test()`` can run the DAGs there."""
    bundles = json.loads(os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])
    bundles.append(
        {
            "name": "reliability-dags",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(RELIABILITY_DAGS)},
        }
    )
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    return str(RELIABILITY_DAGS)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FAULT_TALLY["injected"] or FAULT_TALLY["inputs"]:
        terminalreporter.write_line(
            f"reliability: {FAULT_TALLY['injected']} faults injected, "
            f"{FAULT_TALLY['inputs']} invalid inputs tried"
        )
