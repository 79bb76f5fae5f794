"""A minimal DAG used only to check that dag.test() works in the test set-up."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def smoke_defer():
    @task
    def hello() -> str:
        return "hi"

    hello()


smoke_defer()
