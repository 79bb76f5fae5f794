from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_browserbase.local.server import LocalServer

API_KEY = "bb_operator_tests_key"


@pytest.fixture(scope="module")
def quick_server() -> Iterator[LocalServer]:
    """API-only ``browserbase-local`` (no Chromium) whose session timeouts run 100 times faster."""
    from airflow_provider_browserbase.local.server import LocalServer

    with LocalServer(port=0, api_key=API_KEY, no_browser=True, max_sessions=20, timeout_scale=0.01) as server:
        yield server


@pytest.fixture
def quick_conn(quick_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A connection id pointing at :func:`quick_server`."""
    conn = {"conn_type": "browserbase", "host": quick_server.base_url, "password": quick_server.api_key}
    monkeypatch.setenv("AIRFLOW_CONN_BROWSERBASE_OPERATORS", json.dumps(conn))
    return "browserbase_operators"


@pytest.fixture
def make_context() -> Callable[..., dict[str, Any]]:
    """A task context whose ``ti`` is a mock recording XCom pushes."""

    def make(**ti_fields: Any) -> dict[str, Any]:
        ti = mock.MagicMock()
        fields = {
            "dag_id": "dag",
            "task_id": "task",
            "run_id": "manual__2026",
            "try_number": 1,
            "map_index": -1,
        }
        fields.update(ti_fields)
        for name, value in fields.items():
            setattr(ti, name, value)
        return {"ti": ti, "params": {}, "dag_id": fields["dag_id"], "run_id": fields["run_id"]}

    return make
