"""
What ``@task.browserbase`` and ``BrowserbasePlaywrightOperator`` log about their return value, for
``tests/decorators/test_return_value_log.py``: the page title (shown), the session's connect URL (shown
with its signing key masked) and a value the task asks not to show.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from airflow_provider_browserbase.operators.playwright import BrowserbasePlaywrightOperator


def connect_url_of(session):  # type: ignore[no-untyped-def]
    return session.connect_url


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"demo_url": Param("http://127.0.0.1:8787/demo", type="string")},
)
def browserbase_return_value() -> None:
    @task.browserbase(session_timeout=120)
    def title(page, params=None):  # type: ignore[no-untyped-def]
        page.goto(f"{params['demo_url']}/")
        return page.title()

    @task.browserbase(session_timeout=120, show_return_value_in_logs=False)
    def quiet(page, params=None):  # type: ignore[no-untyped-def]
        page.goto(f"{params['demo_url']}/products")
        return "quiet-" + page.title()

    connect_url = BrowserbasePlaywrightOperator(
        task_id="connect_url", python_callable=connect_url_of, session_timeout=120
    )
    title() >> quiet() >> connect_url


browserbase_return_value()
