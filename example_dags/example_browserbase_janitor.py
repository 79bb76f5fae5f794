"""
Hourly maintenance: end the Browserbase sessions Airflow tasks left running.

A task killed with no chance to clean up (``kill -9``, the OOM killer, a lost node) can leave a
``keep_alive`` session running, and billed, until its timeout. The operators end such sessions themselves
in most cases (the failure callback, the sweep of the next try, a timeout that follows
``execution_timeout``); this DAG catches the rest: sessions whose task instance and DAG run are over, and
any Airflow-tagged session older than ``max_age``. It starts as a dry run that only reports; set the
``report_only`` param to false (or trigger with ``{"report_only": false}``) once the report looks right.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag

from airflow_provider_browserbase.operators.janitor import BrowserbaseSessionJanitorOperator


@dag(
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={"report_only": Param(True, type="boolean", description="a dry run: end nothing")},
    render_template_as_native_obj=True,
    tags=["example", "browserbase", "maintenance"],
    doc_md=__doc__,
)
def example_browserbase_janitor():
    BrowserbaseSessionJanitorOperator(
        task_id="end_leftover_sessions",
        # Longer than any task here holds a session (Browserbase ends every session within 6 hours anyway).
        max_age=timedelta(hours=2),
        report_only="{{ params.report_only }}",
    )


example_browserbase_janitor()
