"""
Templated connection ids and OpenLineage datasets in one run, for ``tests/operators/test_lineage_dag_run.py``.

Every Browserbase task takes its connection from ``{{ params.conn }}``; the test runs the DAG with no
``browserbase_default`` connection, so a connection id left unrendered fails the task. ``fetch_report``
reads two pages of the demo shop and downloads its report, ``save_report`` writes that file to
``params.destination``, ``browse`` (``@task.browserbase``) reads pages, one of them twice. A session
created and ended by id checks the session operators and the sensor. ``read_then_fail`` reads a page and
fails, as the last task: the run fails, and the failure event names the page. ``fetch_page`` (the Fetch
API, no browser) saves a page into ``params.pages``; ``fetch_missing`` fetches a page that answers 404 and
fails.
"""

from __future__ import annotations

import time
from typing import Any

import pendulum
from airflow.sdk import Param, XComArg, dag, task

from airflow_provider_browserbase.operators.downloads import BrowserbaseDownloadsOperator
from airflow_provider_browserbase.operators.fetch import BrowserbaseFetchOperator
from airflow_provider_browserbase.operators.playwright import BrowserbasePlaywrightOperator
from airflow_provider_browserbase.operators.session import (
    BrowserbaseCreateSessionOperator,
    BrowserbaseEndSessionOperator,
)
from airflow_provider_browserbase.sensors.session import BrowserbaseSessionSensor

CONN = "{{ params.conn }}"


def fetch_report(page: Any, browser: Any, demo_url: str) -> str:
    """Read the products page, then download the report the Browserbase way (CDP download behaviour)."""
    page.goto(f"{demo_url}/products")
    cdp = browser.new_browser_cdp_session()
    finished: list[str] = []
    cdp.on("Browser.downloadProgress", lambda event: finished.append(event["state"]))
    cdp.send(
        "Browser.setDownloadBehavior",
        {"behavior": "allow", "downloadPath": "downloads", "eventsEnabled": True},
    )
    page.goto(f"{demo_url}/download")
    page.click("#report")
    deadline = time.monotonic() + 30
    while "completed" not in finished and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    return finished[-1] if finished else "no download event"


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "conn": Param("browserbase_missing", type="string"),
        "demo_url": Param("http://127.0.0.1:8787/demo", type="string"),
        "destination": Param("/tmp/browserbase-lineage", type="string"),
        "pages": Param("/tmp/browserbase-lineage-pages/", type="string"),
    },
)
def browserbase_lineage_flow() -> None:
    fetch = BrowserbasePlaywrightOperator(
        task_id="fetch_report",
        python_callable=fetch_report,
        op_kwargs={"demo_url": "{{ params.demo_url }}"},
        browserbase_conn_id=CONN,
        session_timeout=120,
    )
    save = BrowserbaseDownloadsOperator(
        task_id="save_report",
        session_id=XComArg(fetch, key="session_id"),
        destination="{{ params.destination }}",
        timeout=30,
        poll_interval=0.5,
        browserbase_conn_id=CONN,
    )

    @task.browserbase(browserbase_conn_id=CONN, session_timeout=120)
    def browse(page: Any = None, params: dict[str, Any] | None = None) -> str:
        assert params is not None
        page.goto(f"{params['demo_url']}/products?sort=price")
        page.goto(f"{params['demo_url']}/products")
        page.goto(f"{params['demo_url']}/download")
        return str(page.title())

    create = BrowserbaseCreateSessionOperator(task_id="create_session", browserbase_conn_id=CONN)
    end = BrowserbaseEndSessionOperator(
        task_id="end_session", session_id=create.output["session_id"], browserbase_conn_id=CONN
    )
    ended = BrowserbaseSessionSensor(
        task_id="session_ended",
        session_id=create.output["session_id"],
        browserbase_conn_id=CONN,
        poke_interval=0.5,
        timeout=60,
    )

    @task.browserbase(browserbase_conn_id=CONN, session_timeout=120, retries=0)
    def read_then_fail(page: Any = None, params: dict[str, Any] | None = None) -> None:
        assert params is not None
        page.goto(f"{params['demo_url']}/products")
        raise ValueError("failing on purpose after reading a page")

    fetch >> save >> browse() >> create >> end >> ended >> read_then_fail()

    BrowserbaseFetchOperator(
        task_id="fetch_page",
        url="{{ params.demo_url }}/products?page=2",
        format="markdown",
        destination="{{ params.pages }}",
        browserbase_conn_id=CONN,
    )
    BrowserbaseFetchOperator(
        task_id="fetch_missing",
        url="{{ params.demo_url }}/products?page=999",
        browserbase_conn_id=CONN,
        retries=0,
    )


browserbase_lineage_flow()
