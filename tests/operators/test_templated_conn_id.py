"""``browserbase_conn_id`` is a template field: the hook and the trigger get the rendered connection id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

from airflow_provider_browserbase.callbacks import EndBrowserbaseSessions
from airflow_provider_browserbase.decorators.browserbase import browserbase_task
from airflow_provider_browserbase.operators.context import (
    BrowserbaseCreateContextOperator,
    BrowserbaseDeleteContextOperator,
)
from airflow_provider_browserbase.operators.downloads import BrowserbaseDownloadsOperator
from airflow_provider_browserbase.operators.janitor import BrowserbaseSessionJanitorOperator
from airflow_provider_browserbase.operators.playwright import BrowserbasePlaywrightOperator
from airflow_provider_browserbase.operators.session import (
    BrowserbaseCreateSessionOperator,
    BrowserbaseEndSessionOperator,
)
from airflow_provider_browserbase.sensors.session import BrowserbaseSessionSensor

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.sdk import BaseOperator

TEMPLATE = "{{ params.conn }}"
RENDERED = "bb_from_params"


def _title(page: Any = None) -> str:
    return str(page.title())


def _decorated() -> BaseOperator:
    from airflow.sdk import DAG

    with DAG("templated_conn", schedule=None, params={"conn": RENDERED}):
        return browserbase_task(_title, task_id="decorated", browserbase_conn_id=TEMPLATE)().operator


BUILDERS: dict[str, Callable[[], BaseOperator]] = {
    "create_session": lambda: BrowserbaseCreateSessionOperator(task_id="t", browserbase_conn_id=TEMPLATE),
    "end_session": lambda: BrowserbaseEndSessionOperator(
        task_id="t", session_id="s", browserbase_conn_id=TEMPLATE
    ),
    "playwright": lambda: BrowserbasePlaywrightOperator(
        task_id="t", python_callable=_title, browserbase_conn_id=TEMPLATE
    ),
    "decorator": _decorated,
    "downloads": lambda: BrowserbaseDownloadsOperator(
        task_id="t", session_id="s", destination="/tmp/x", browserbase_conn_id=TEMPLATE
    ),
    "create_context": lambda: BrowserbaseCreateContextOperator(task_id="t", browserbase_conn_id=TEMPLATE),
    "delete_context": lambda: BrowserbaseDeleteContextOperator(
        task_id="t", context_id="c", browserbase_conn_id=TEMPLATE
    ),
    "janitor": lambda: BrowserbaseSessionJanitorOperator(task_id="t", browserbase_conn_id=TEMPLATE),
    "sensor": lambda: BrowserbaseSessionSensor(task_id="t", session_id="s", browserbase_conn_id=TEMPLATE),
}


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_the_hook_is_built_from_the_rendered_connection_id(kind: str) -> None:
    task = BUILDERS[kind]()
    assert "browserbase_conn_id" in task.template_fields
    task.render_template_fields({"params": {"conn": RENDERED}})
    assert task.browserbase_conn_id == RENDERED
    assert task.hook.browserbase_conn_id == RENDERED  # type: ignore[attr-defined]


def test_the_deferred_sensor_hands_the_rendered_connection_id_to_its_trigger() -> None:
    from airflow.providers.common.compat.sdk import TaskDeferred

    task = BrowserbaseSessionSensor(
        task_id="t", session_id="s", browserbase_conn_id=TEMPLATE, deferrable=True, timeout=60
    )
    task.render_template_fields({"params": {"conn": RENDERED}})
    with (
        mock.patch.object(BrowserbaseSessionSensor, "poke", return_value=False),
        pytest.raises(TaskDeferred) as deferred,
    ):
        task.execute({})
    assert deferred.value.trigger.serialize()[1]["browserbase_conn_id"] == RENDERED


def test_the_failure_callback_renders_the_connection_id_of_an_unrendered_task() -> None:
    # The DAG processor runs the callback of a task whose process died with the parsed task.
    task = BrowserbaseCreateSessionOperator(task_id="t", browserbase_conn_id=TEMPLATE)
    assert EndBrowserbaseSessions().conn_id_for({"task": task, "params": {"conn": RENDERED}}) == RENDERED
    assert EndBrowserbaseSessions("bb_fixed").conn_id_for({"task": task}) == "bb_fixed"
