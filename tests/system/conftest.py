"""
Fixtures for the real-scheduler test: an Airflow deployment of its own and a headless browser for its UI.

``airflow_cluster`` starts ``airflow api-server``, ``dag-processor``, ``scheduler`` and ``triggerer`` on a
temporary ``AIRFLOW_HOME`` (LocalExecutor, SQLite), with the ``browserbase_default`` connection pointing at
the session's ``local_server``. Its processes are stopped by pid at the end of the module and their logs are
copied to ``test-artifacts/system/`` for a look after a CI failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from airflow_cluster import AirflowCluster

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser

    from airflow_provider_browserbase.local.server import LocalServer

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
SYSTEM_DAGS = Path(__file__).resolve().parent / "dags"
ARTIFACTS = REPO / "test-artifacts" / "system"


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def airflow_cluster(local_server: LocalServer, artifacts: Path) -> Iterator[AirflowCluster]:
    """A running Airflow deployment whose components are all healthy."""
    home = Path(tempfile.mkdtemp(prefix="bbp-system-airflow-"))
    cluster = AirflowCluster(
        home,
        bundles={"dags-folder": EXAMPLE_DAGS, "system-dags": SYSTEM_DAGS},
        # Set by the local_server fixture for the pytest process; handed on to every Airflow process.
        extra_env={"AIRFLOW_CONN_BROWSERBASE_DEFAULT": os.environ["AIRFLOW_CONN_BROWSERBASE_DEFAULT"]},
    )
    try:
        with cluster.timed("airflow db migrate"):
            cluster.run_cli("db", "migrate")
        with cluster.timed("start until every component is healthy"):
            cluster.start_all()
            cluster.wait_healthy()
        yield cluster
    finally:
        with cluster.timed("stop every component"):
            outcome = cluster.stop()
        leftovers = cluster.group_members()
        logs = artifacts / "process-logs"
        shutil.rmtree(logs, ignore_errors=True)
        shutil.copytree(cluster.log_dir, logs, dirs_exist_ok=True)
        (logs / "stop.txt").write_text(f"{outcome}\nleft alive: {leftovers}\n")
        (artifacts / "timings.txt").write_text(
            "".join(f"{seconds:7.1f} s  {phase}\n" for phase, seconds in cluster.timings.items())
        )
        shutil.rmtree(home, ignore_errors=True)
    assert not leftovers, f"processes left alive after stopping Airflow: {leftovers} ({outcome})"


@pytest.fixture(scope="module")
def ui_browser() -> Iterator[Browser]:
    """Headless Debian Chromium driven by Playwright directly (not through browserbase-local)."""
    from playwright.sync_api import sync_playwright

    from airflow_provider_browserbase.local.chromium import find_chromium

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium())
        try:
            yield browser
        finally:
            browser.close()
