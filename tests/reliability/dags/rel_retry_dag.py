"""A task whose first try fails after its session exists; the retry must use a fresh session."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
from airflow.sdk import dag, task


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1),
    catchup=False,
    default_args={"retries": 1, "retry_delay": dt.timedelta(seconds=0)},
)
def rel_retry() -> None:
    @task.browserbase(browserbase_conn_id="browserbase_reliability", keep_alive=True)
    def flaky(ti: Any = None, page: Any = None, session: Any = None) -> str:
        page.goto("about:blank")
        if ti.try_number == 1:
            raise RuntimeError(f"first try fails in session {session.id}")
        return session.id

    flaky()


rel_retry()
