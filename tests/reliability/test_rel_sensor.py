"""
The sensor times out (poke mode and deferred), and a deferred sensor is killed: the session it watches
is left exactly as it was, because watching never ends a session.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.sensors.session import BrowserbaseSessionSensor
from airflow_provider_browserbase.triggers.session import BrowserbaseSessionTrigger

if TYPE_CHECKING:
    from reliability_helpers import Admin


@pytest.fixture
def running_session(api_conn: str, api_admin: Admin) -> Any:
    with BrowserbaseHook(api_conn) as hook:
        created = hook.create_session(keep_alive=True)
        yield created.id
        hook.end_session(created.id)


def test_a_poking_sensor_times_out_and_leaves_the_session_running(
    api_conn: str, api_admin: Admin, running_session: str, make_context: Any
) -> None:
    from airflow.providers.common.compat.sdk import AirflowSensorTimeout

    sensor = BrowserbaseSessionSensor(
        task_id="wait", session_id=running_session, browserbase_conn_id=api_conn,
        poke_interval=0.1, timeout=1, mode="poke",
    )  # fmt: skip
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute(make_context())
    assert api_admin.status(running_session) == "RUNNING"


def test_a_deferred_sensor_times_out_in_the_trigger(
    api_conn: str, api_admin: Admin, running_session: str, make_context: Any
) -> None:
    from airflow.providers.common.compat.sdk import AirflowSensorTimeout

    trigger = BrowserbaseSessionTrigger(
        session_id=running_session, browserbase_conn_id=api_conn, poll_interval=0.1, end_time=time.time() + 1
    )

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger yielded nothing")

    event = asyncio.run(first_event())
    assert event["status"] == "timeout"
    assert event["session_status"] == "RUNNING"
    sensor = BrowserbaseSessionSensor(
        task_id="wait", session_id=running_session, browserbase_conn_id=api_conn
    )
    with pytest.raises(
        AirflowSensorTimeout, match=f"Timed out waiting for Browserbase session {running_session}"
    ):
        sensor.execute_complete(make_context(), event)
    assert api_admin.status(running_session) == "RUNNING"


def test_killing_a_deferred_sensor_leaves_its_session_untouched(
    api_conn: str, api_admin: Admin, running_session: str, make_context: Any
) -> None:
    from airflow.providers.common.compat.sdk import TaskDeferred

    sensor = BrowserbaseSessionSensor(
        task_id="wait", session_id=running_session, browserbase_conn_id=api_conn,
        poke_interval=0.1, timeout=60, deferrable=True,
    )  # fmt: skip
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(make_context())
    trigger = deferred.value.trigger

    async def run_then_cancel() -> None:
        task = asyncio.ensure_future(trigger.run().__anext__())
        await asyncio.sleep(0.5)  # a few polls
        task.cancel()  # what the triggerer does when the task is killed or the triggerer stops
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_then_cancel())
    sensor.on_kill()
    assert api_admin.status(running_session) == "RUNNING"
    body = api_admin.http.get(f"/v1/sessions/{running_session}").json()
    assert body["endedAt"] is None
