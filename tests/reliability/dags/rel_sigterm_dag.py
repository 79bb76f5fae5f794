"""A task that opens a keepAlive session, says so in a file, then waits until it is killed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1),
    catchup=False,
    params={"marker": Param("", type="string"), "conn_id": Param("browserbase_reliability", type="string")},
)
def rel_sigterm() -> None:
    # keepAlive: only a release ends the session, not the task process's sockets closing.
    @task.browserbase(browserbase_conn_id="browserbase_reliability", keep_alive=True)
    def wait_until_killed(params: dict[str, Any], page: Any = None, session: Any = None) -> None:
        page.goto("about:blank")
        Path(params["marker"]).write_text(session.id)
        page.wait_for_timeout(120_000)

    wait_until_killed()


rel_sigterm()
