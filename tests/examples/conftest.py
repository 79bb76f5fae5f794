"""Fixtures for the example DAG tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from example_helpers import EXAMPLE_DAGS

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.server import LocalServer


@pytest.fixture(scope="session")
def example_dagbag() -> Any:
    from airflow.models import DagBag

    return DagBag(dag_folder=str(EXAMPLE_DAGS))


@pytest.fixture
def demo_url(local_server: LocalServer) -> str:
    return f"{local_server.base_url}/demo"
