from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest
from airflow.exceptions import AirflowRescheduleException
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred

from airflow_provider_browserbase.exceptions import (
    BrowserbaseAuthenticationError,
    BrowserbaseError,
    BrowserbaseServerError,
    BrowserbaseSessionError,
)
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.sensors.session import BrowserbaseSessionSensor
from airflow_provider_browserbase.triggers.session import BrowserbaseSessionTrigger

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_browserbase.models import CreatedSession


@pytest.fixture
def hook(quick_conn: str) -> Iterator[BrowserbaseHook]:
    with BrowserbaseHook(quick_conn) as hook:
        yield hook


@pytest.fixture
def running(hook: BrowserbaseHook) -> Iterator[CreatedSession]:
    session = hook.create_session(session_timeout=600)
    yield session
    hook.end_session(session.id)


def sensor(conn_id: str, session_id: str, **kwargs: Any) -> BrowserbaseSessionSensor:
    return BrowserbaseSessionSensor(
        task_id="wait", session_id=session_id, browserbase_conn_id=conn_id, **kwargs
    )


def test_session_id_is_templated() -> None:
    task = BrowserbaseSessionSensor(task_id="wait", session_id="{{ params.sid }}")
    task.render_template_fields({"params": {"sid": "abc"}})
    assert task.session_id == "abc"


def test_poke_waits_while_running_and_succeeds_once_completed(
    quick_conn: str, hook: BrowserbaseHook, running: CreatedSession
) -> None:
    task = sensor(quick_conn, running.id)
    assert task.poke({}) is False
    hook.end_session(running.id, wait=True, wait_timeout=10, poll_interval=0.05)
    assert task.poke({}) is True


def test_poke_fails_on_timed_out_with_id_and_status(quick_conn: str, hook: BrowserbaseHook) -> None:
    session = hook.create_session(session_timeout=60)  # 0.6 s on the quick server
    deadline = time.monotonic() + 20
    while hook.get_session(session.id).status != "TIMED_OUT" and time.monotonic() < deadline:
        time.sleep(0.1)
    with pytest.raises(BrowserbaseSessionError, match=f"{session.id} ended with status TIMED_OUT") as err:
        sensor(quick_conn, session.id).poke({})
    assert err.value.session_id == session.id
    assert err.value.status == "TIMED_OUT"


def test_custom_target_and_terminal_status_outside_the_targets(
    quick_conn: str, hook: BrowserbaseHook, running: CreatedSession
) -> None:
    waiting_for_running = sensor(quick_conn, running.id, target_statuses=["RUNNING"])
    assert waiting_for_running.poke({}) is True
    hook.end_session(running.id, wait=True, wait_timeout=10, poll_interval=0.05)
    with pytest.raises(BrowserbaseSessionError, match="COMPLETED without reaching RUNNING"):
        waiting_for_running.poke({})


def test_failure_statuses_are_configurable(
    quick_conn: str, hook: BrowserbaseHook, running: CreatedSession
) -> None:
    hook.end_session(running.id, wait=True, wait_timeout=10, poll_interval=0.05)
    task = sensor(quick_conn, running.id, target_statuses=["ERROR"], failure_statuses=["COMPLETED"])
    with pytest.raises(BrowserbaseSessionError, match="ended with status COMPLETED"):
        task.poke({})


def test_transient_error_is_not_yet_and_other_errors_fail() -> None:
    task = sensor("unused", "sess-1")
    with mock.patch.object(
        BrowserbaseHook, "get_session_status", side_effect=BrowserbaseServerError("get_session", 503)
    ):
        assert task.poke({}) is False
    with (
        mock.patch.object(
            BrowserbaseHook,
            "get_session_status",
            side_effect=BrowserbaseAuthenticationError("get_session", 401),
        ),
        pytest.raises(BrowserbaseAuthenticationError),
    ):
        task.poke({})


def test_poke_mode_execute_returns_when_completed(
    quick_conn: str, hook: BrowserbaseHook, running: CreatedSession
) -> None:
    hook.end_session(running.id)
    task = sensor(quick_conn, running.id, poke_interval=0.05, timeout=20, mode="poke")
    assert task.execute({}) is None


def test_reschedule_mode_gives_the_slot_back_while_running(quick_conn: str, running: CreatedSession) -> None:
    ti = mock.MagicMock()
    ti.get_first_reschedule_date.return_value = None
    task = sensor(quick_conn, running.id, mode="reschedule", poke_interval=30, timeout=600)
    with pytest.raises(AirflowRescheduleException):
        task.execute({"ti": ti})


def test_deferrable_pokes_once_then_defers_with_wall_clock_deadline(
    quick_conn: str, running: CreatedSession
) -> None:
    task = sensor(quick_conn, running.id, deferrable=True, timeout=120, poke_interval=3)
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        task.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, BrowserbaseSessionTrigger)
    assert deferred.value.method_name == "execute_complete"
    kwargs = trigger.serialize()[1]
    assert kwargs["session_id"] == running.id
    assert kwargs["browserbase_conn_id"] == quick_conn
    assert kwargs["target_statuses"] == ["COMPLETED"]
    assert kwargs["failure_statuses"] == ["ERROR", "TIMED_OUT"]
    assert kwargs["poll_interval"] == 3
    assert before + 120 <= kwargs["end_time"] <= time.time() + 120


def test_deferrable_does_not_defer_when_already_there(
    quick_conn: str, hook: BrowserbaseHook, running: CreatedSession
) -> None:
    hook.end_session(running.id, wait=True, wait_timeout=10, poll_interval=0.05)
    assert sensor(quick_conn, running.id, deferrable=True).execute({}) is None


def event(status: str, **overrides: Any) -> dict[str, Any]:
    payload = {"status": status, "session_id": "sess-1", "session_status": "X", "message": f"it is {status}"}
    payload.update(overrides)
    return payload


def test_execute_complete_success() -> None:
    task = sensor("unused", "sess-1", deferrable=True)
    assert task.execute_complete({}, event("success", session_status="COMPLETED")) is None


@pytest.mark.parametrize(
    ("payload", "error", "match"),
    [
        (event("failed", session_status="ERROR"), BrowserbaseSessionError, "it is failed"),
        (event("timeout"), AirflowSensorTimeout, "it is timeout"),
        (event("error"), BrowserbaseError, "it is error"),
        (None, BrowserbaseError, "Unexpected event"),
        ({"status": "done"}, BrowserbaseError, "Unexpected event"),
        ("success", BrowserbaseError, "Unexpected event"),
        (event("success", session_id="other"), BrowserbaseError, "reported on session 'other'"),
    ],
)
def test_execute_complete_fails_loudly(payload: Any, error: type[Exception], match: str) -> None:
    task = sensor("unused", "sess-1", deferrable=True)
    with pytest.raises(error, match=match):
        task.execute_complete({}, payload)


def test_failed_event_carries_session_and_status() -> None:
    task = sensor("unused", "sess-1", deferrable=True)
    with pytest.raises(BrowserbaseSessionError) as err:
        task.execute_complete({}, event("failed", session_status="TIMED_OUT"))
    assert (err.value.session_id, err.value.status) == ("sess-1", "TIMED_OUT")


def test_killing_the_sensor_leaves_the_session_alone(
    quick_conn: str, hook: BrowserbaseHook, running: CreatedSession
) -> None:
    task = sensor(quick_conn, running.id)
    assert task.poke({}) is False
    task.on_kill()
    assert hook.get_session(running.id).status == "RUNNING"


def test_needs_a_target_status() -> None:
    with pytest.raises(ValueError, match="target_statuses"):
        sensor("unused", "sess-1", target_statuses=[])
