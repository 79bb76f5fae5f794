from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_browserbase.local.server import LocalServer

API_KEY = "bb_sensor_tests_key"


@pytest.fixture(scope="module")
def quick_server() -> Iterator[LocalServer]:
    """API-only ``browserbase-local`` whose session timeouts run 100 times faster (60 s -> 0.6 s)."""
    from airflow_provider_browserbase.local.server import LocalServer

    with LocalServer(port=0, api_key=API_KEY, no_browser=True, max_sessions=20, timeout_scale=0.01) as server:
        yield server


@pytest.fixture
def quick_conn(quick_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A connection id pointing at :func:`quick_server`."""
    conn = {"conn_type": "browserbase", "host": quick_server.base_url, "password": quick_server.api_key}
    monkeypatch.setenv("AIRFLOW_CONN_BROWSERBASE_SENSORS", json.dumps(conn))
    return "browserbase_sensors"
