"""
Fixtures for the real-scheduler test: an Airflow deployment of its own and a headless browser for its UI.

``airflow_cluster`` starts ``airflow api-server``, ``dag-processor``, ``scheduler`` and ``triggerer`` on a
temporary ``AIRFLOW_HOME`` (LocalExecutor, SQLite), with the ``browserbase_default`` connection pointing at
``local_server``. Its processes are stopped by pid at the end of the module and their logs are copied to
``test-artifacts/system/`` for a look after a CI failure.

``local_server`` here replaces the suite's session-wide one for these tests: a ``browserbase-local`` of the
module whose sessions end ``RELEASE_DELAY`` seconds after their release, as Browserbase releases
asynchronously. The scrape example's sensor, which runs right after ``end_session``, then finds its session
still RUNNING and defers to the triggerer: the example itself shows the deferral.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from airflow_cluster import AirflowCluster, deployed

from airflow_provider_browserbase.local.server import LocalServer
from tests.support import TEST_API_KEY, default_connection_to

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
SYSTEM_DAGS = Path(__file__).resolve().parent / "dags"
ARTIFACTS = REPO / "test-artifacts" / "system"
# Must be longer than the scheduler takes to run end_session and start the sensor after the scrape's
# browser disconnected (which released the session): 2-3 s measured on two cores (timings.txt records it).
# Every release in these tests waits this long, so it is not made larger than a safe margin needs.
RELEASE_DELAY = 20.0


@pytest.fixture(scope="module")
def local_server() -> Iterator[LocalServer]:
    """``browserbase-local`` with real Chromium and a release delay; ``browserbase_default`` points at it."""
    # Each released session stays RUNNING for RELEASE_DELAY: a module's runs overlap in sessions (two runs of
    # one example, then a DAG of three browser tasks), so the slots are sized for that, not for 4.
    with (
        LocalServer(
            host="127.0.0.1", port=0, api_key=TEST_API_KEY, release_delay=RELEASE_DELAY, max_sessions=8
        ) as server,
        default_connection_to(server),
    ):
        yield server


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def airflow_cluster(local_server: LocalServer, artifacts: Path) -> Iterator[AirflowCluster]:
    """A running Airflow deployment whose components are all healthy."""
    with deployed(
        "bbp-system-airflow-",
        bundles={"dags-folder": EXAMPLE_DAGS, "system-dags": SYSTEM_DAGS},
        # Set by local_server for the pytest process; handed on to every Airflow process.
        extra_env={"AIRFLOW_CONN_BROWSERBASE_DEFAULT": os.environ["AIRFLOW_CONN_BROWSERBASE_DEFAULT"]},
        artifacts=artifacts,
    ) as cluster:
        yield cluster


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
