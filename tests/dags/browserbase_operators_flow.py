"""
The provider's operators in one run, for ``tests/operators/test_dag_run.py``.

create_session -> read_page (plain Playwright on the connect URL from XCom) -> end_session (all_done) ->
wait_completed (deferrable sensor). Then a keepAlive session that something else releases a few seconds
later, so the deferrable sensor really defers and resumes, and an ``@task.browserbase`` task.
"""

from __future__ import annotations

import threading

import pendulum
from airflow.sdk import Param, XComArg, dag, task

from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.operators.session import (
    BrowserbaseCreateSessionOperator,
    BrowserbaseEndSessionOperator,
)
from airflow_provider_browserbase.sensors.session import BrowserbaseSessionSensor

SESSION_ID = "{{ ti.xcom_pull(task_ids='create_session', key='session_id') }}"


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"demo_url": Param("http://127.0.0.1:8787/demo", type="string")},
)
def browserbase_operators_flow() -> None:
    create = BrowserbaseCreateSessionOperator(
        task_id="create_session", session_timeout=300, user_metadata={"purpose": "dag-test"}
    )

    @task
    def read_page(connect_url: str, params: dict | None = None) -> str:
        from airflow.sdk.log import mask_secret
        from playwright.sync_api import sync_playwright

        mask_secret(connect_url)
        with sync_playwright() as playwright:
            browser = playwright.chromium.connect_over_cdp(connect_url)
            try:
                page = browser.contexts[0].pages[0]
                page.goto(f"{params['demo_url']}/products")  # type: ignore[index]
                return page.inner_text("h1")
            finally:
                browser.close()

    end = BrowserbaseEndSessionOperator(task_id="end_session", session_id=SESSION_ID, trigger_rule="all_done")
    wait_completed = BrowserbaseSessionSensor(
        task_id="wait_completed", session_id=SESSION_ID, deferrable=True, poke_interval=1, timeout=60
    )
    create >> read_page(XComArg(create, key="connect_url")) >> end >> wait_completed

    kept = BrowserbaseCreateSessionOperator(
        task_id="create_kept_session", keep_alive=True, session_timeout=300, push_connect_url=False
    )

    @task
    def release_soon(session_id: str) -> None:
        """Stand in for another system that ends the session a little later."""
        timer = threading.Timer(3, BrowserbaseHook().end_session, args=[session_id])
        timer.daemon = True
        timer.start()

    wait_released = BrowserbaseSessionSensor(
        task_id="wait_released",
        session_id="{{ ti.xcom_pull(task_ids='create_kept_session', key='session_id') }}",
        deferrable=True,
        poke_interval=1,
        timeout=60,
    )
    kept_id = XComArg(kept, key="session_id")
    wait_completed >> kept
    release_soon(kept_id) >> wait_released

    @task.browserbase(session_timeout=120)
    def heading(page, params=None):  # type: ignore[no-untyped-def]
        page.goto(f"{params['demo_url']}/products")
        return page.inner_text("h1")

    wait_released >> heading()


browserbase_operators_flow()
