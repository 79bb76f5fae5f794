"""
Tasks that are killed with SIGKILL by ``test_killed_tasks.py``, and the janitor that cleans up after them.

``system_kill_no_retry`` and ``system_kill_retry`` each create a ``keep_alive`` session with
``@task.browserbase`` (a session that survives its client's disconnect, so nothing ends it when the task's
process dies) and then block until the test kills the process. The second has ``retries=1``: its second
try returns at once, and it is mapped. ``system_janitor`` runs the janitor with the ``report_only`` param.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from airflow_provider_browserbase.operators.janitor import BrowserbaseSessionJanitorOperator

DAG_ARGS: dict[str, Any] = {
    "schedule": None,
    "start_date": pendulum.datetime(2026, 1, 1, tz="UTC"),
    "catchup": False,
    "tags": ["browserbase", "system-test"],
}


@dag(**DAG_ARGS)
def system_kill_no_retry():
    @task.browserbase(keep_alive=True, session_timeout=1800, retries=0)
    def block(page: Any = None) -> None:
        time.sleep(900)

    block()


@dag(**DAG_ARGS)
def system_kill_retry():
    # Mapped (over one value): the DAG processor runs no callback a mapped task got in its operator's
    # __init__ (it reads callbacks from the partial arguments), so what ends the killed first try's
    # session is the second try's sweep, which finds it by DAG id, task id, run id and map index.
    @task.browserbase(keep_alive=True, session_timeout=1800, retries=1, retry_delay=timedelta(seconds=1))
    def block(item: int, ti: Any = None, page: Any = None) -> int:
        if ti.try_number == 1:
            time.sleep(900)
        return int(ti.try_number)

    block.expand(item=[0])


@dag(**DAG_ARGS, params={"report_only": Param(True, type="boolean")}, render_template_as_native_obj=True)
def system_janitor():
    BrowserbaseSessionJanitorOperator(task_id="janitor", max_age=None, report_only="{{ params.report_only }}")


system_kill_no_retry()
system_kill_retry()
system_janitor()
