"""
A session watched by a deferrable sensor, for the real-scheduler test.

The sensor pokes once, sees the session RUNNING and defers: the wait then happens in the triggerer, in
another process, from the trigger's serialized kwargs. The test ends the session from outside once it has
seen the task DEFERRED, so the order is certain however slow the machine is; the trigger then sees
COMPLETED and the sensor resumes on a worker.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_provider_browserbase.operators.session import BrowserbaseCreateSessionOperator
from airflow_provider_browserbase.sensors.session import BrowserbaseSessionSensor


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["browserbase", "system-test"],
)
def system_deferred_sensor():
    create = BrowserbaseCreateSessionOperator(task_id="create_session", keep_alive=True, session_timeout=600)
    wait = BrowserbaseSessionSensor(
        task_id="wait_until_completed",
        session_id="{{ ti.xcom_pull(task_ids='create_session', key='session_id') }}",
        deferrable=True,
        poke_interval=1,
        timeout=300,
    )
    create >> wait


system_deferred_sensor()
