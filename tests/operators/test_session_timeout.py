"""The session timeout follows the task's ``execution_timeout`` when the user gave none."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_browserbase.operators._session_settings import (
    SESSION_TIMEOUT_MARGIN,
    derived_session_timeout,
    session_settings_for_task,
)
from airflow_provider_browserbase.operators.playwright import BrowserbasePlaywrightOperator
from airflow_provider_browserbase.operators.session import BrowserbaseCreateSessionOperator

if TYPE_CHECKING:
    from collections.abc import Callable


@pytest.mark.parametrize(
    ("execution_timeout", "expected"),
    [
        (None, None),
        (timedelta(minutes=10), 600 + SESSION_TIMEOUT_MARGIN),
        (timedelta(seconds=0.5), 61),  # whole seconds, rounded up
        (timedelta(seconds=1), 61),
        (timedelta(seconds=0), 60),  # the API's minimum
        (timedelta(hours=6), 21600),  # the API's maximum
        (timedelta(days=2), 21600),
    ],
)
def test_derived_timeout(execution_timeout: timedelta | None, expected: int | None) -> None:
    assert derived_session_timeout(execution_timeout) == expected


def noop() -> None: ...


def settings_of(task: Any, make_context: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    return session_settings_for_task(make_context(), task, **kwargs)


@pytest.mark.parametrize("keep_alive", [None, True])
def test_playwright_session_follows_the_task(
    make_context: Callable[..., dict[str, Any]], keep_alive: bool | None
) -> None:
    task = BrowserbasePlaywrightOperator(
        task_id="t", python_callable=noop, keep_alive=keep_alive, execution_timeout=timedelta(minutes=5)
    )
    assert settings_of(task, make_context)["session_timeout"] == 360


def test_explicit_timeout_wins(make_context: Callable[..., dict[str, Any]]) -> None:
    for given in ({"session_timeout": 120}, {"session_settings": {"timeout": 120}}):
        task = BrowserbasePlaywrightOperator(
            task_id="t", python_callable=noop, execution_timeout=timedelta(hours=1), **given
        )
        assert settings_of(task, make_context)["session_timeout"] == 120


def test_no_execution_timeout_leaves_the_projects_default(
    make_context: Callable[..., dict[str, Any]],
) -> None:
    task = BrowserbasePlaywrightOperator(task_id="t", python_callable=noop)
    assert "session_timeout" not in settings_of(task, make_context)


def test_create_operator_keep_alive_session_outlives_the_task(
    make_context: Callable[..., dict[str, Any]],
) -> None:
    limited = {"execution_timeout": timedelta(minutes=2)}
    kept = BrowserbaseCreateSessionOperator(task_id="c", keep_alive=True, **limited)
    in_settings = BrowserbaseCreateSessionOperator(
        task_id="c", session_settings={"keepAlive": True}, **limited
    )
    plain = BrowserbaseCreateSessionOperator(task_id="c", **limited)
    for task in (kept, in_settings):
        assert "session_timeout" not in settings_of(task, make_context, keep_alive_outlives_task=True)
    assert settings_of(plain, make_context, keep_alive_outlives_task=True)["session_timeout"] == 180
