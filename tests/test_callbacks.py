"""``end_browserbase_sessions``, the retry sweep and the callbacks the operators attach, against
``browserbase-local --no-browser`` (API-only sessions: they stay RUNNING until released or timed out)."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

from airflow_provider_browserbase.callbacks import (
    EndBrowserbaseSessions,
    end_browserbase_sessions,
    end_earlier_tries,
    task_instance_tags,
    with_session_cleanup,
)
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.operators.playwright import BrowserbasePlaywrightOperator
from airflow_provider_browserbase.operators.session import BrowserbaseCreateSessionOperator
from tests.operators.test_imports import in_fresh_process
from tests.support import connection_uri_env

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_browserbase.local.server import LocalServer

CONN_ID = "browserbase_cleanup"


@pytest.fixture
def conn_id(api_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}", connection_uri_env(api_server.base_url, api_server.api_key)
    )
    return CONN_ID


@pytest.fixture
def hook(conn_id: str) -> Iterator[BrowserbaseHook]:
    with BrowserbaseHook(conn_id) as hook:
        yield hook


@pytest.fixture
def run_id() -> str:
    """A run id of each test's own, so sessions other tests left do not match."""
    return f"manual__{uuid.uuid4().hex}"


def ti(run_id: str, try_number: int = 1, map_index: int = -1, task_id: str = "scrape") -> Any:
    return mock.Mock(dag_id="etl", task_id=task_id, run_id=run_id, try_number=try_number, map_index=map_index)


def create_for(hook: BrowserbaseHook, task_instance: Any, **settings: Any) -> str:
    return hook.create_session(
        keep_alive=True, user_metadata={"airflow": task_instance_tags(task_instance)}, **settings
    ).id


def status(hook: BrowserbaseHook, session_id: str) -> str:
    return hook.get_session_status(session_id).status


def test_tags_name_the_task_instance_and_its_map_index() -> None:
    assert task_instance_tags(ti("r1", try_number=2)) == {
        "dag_id": "etl",
        "task_id": "scrape",
        "run_id": "r1",
        "try_number": "2",
    }
    assert task_instance_tags(ti("r1", map_index=3), with_try_number=False) == {
        "dag_id": "etl",
        "task_id": "scrape",
        "run_id": "r1",
        "map_index": "3",
    }


def test_callback_ends_only_the_sessions_of_that_task_instance_and_try(
    hook: BrowserbaseHook, conn_id: str, run_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    failed = ti(run_id, try_number=2, map_index=1)
    mine = [create_for(hook, failed), create_for(hook, failed)]
    others = [
        create_for(hook, ti(run_id, try_number=3, map_index=1)),  # a later try, already running
        create_for(hook, ti(run_id, try_number=2, map_index=0)),  # another mapped instance
        create_for(hook, ti(run_id, try_number=2, map_index=1, task_id="other")),
        create_for(hook, ti(run_id + "x", try_number=2, map_index=1)),
        hook.create_session(keep_alive=True).id,  # not made by Airflow
    ]
    task = mock.Mock(browserbase_conn_id=conn_id)
    with caplog.at_level(logging.INFO, logger="airflow_provider_browserbase.callbacks"):
        ended = end_browserbase_sessions({"ti": failed, "task": task})
    assert sorted(ended) == sorted(mine)
    assert {status(hook, s) for s in mine} == {"COMPLETED"}
    assert {status(hook, s) for s in others} == {"RUNNING"}
    for session_id in mine:
        assert f"Ended Browserbase session {session_id} (try 2)" in caplog.text
    for session_id in others:
        hook.end_session(session_id)


def test_callback_uses_its_own_connection_or_the_tasks(
    hook: BrowserbaseHook, conn_id: str, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_BROWSERBASE_DEFAULT", raising=False)
    failed = ti(run_id)
    first, second = create_for(hook, failed), create_for(hook, failed)
    # A task without browserbase_conn_id would use browserbase_default, which does not exist here.
    assert EndBrowserbaseSessions()({"ti": failed, "task": object()}) == []
    assert EndBrowserbaseSessions(browserbase_conn_id=conn_id)({"ti": failed, "task": object()}) != []
    assert status(hook, first) == status(hook, second) == "COMPLETED"


def test_callback_logs_and_never_raises_when_the_api_fails(
    run_id: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BROWSERBASE_DOWN", connection_uri_env("http://127.0.0.1:9", "key"))
    callback = EndBrowserbaseSessions(browserbase_conn_id="browserbase_down")
    with mock.patch.object(BrowserbaseHook, "list_sessions", side_effect=ConnectionError("refused")):
        assert callback({"ti": ti(run_id)}) == []
    assert f"Could not look for the Browserbase sessions of etl / scrape / {run_id} / try 1" in caplog.text


def test_retry_sweep_ends_earlier_tries_only(
    hook: BrowserbaseHook, run_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    earlier = [create_for(hook, ti(run_id, try_number=1)), create_for(hook, ti(run_id, try_number=2))]
    current = create_for(hook, ti(run_id, try_number=3))
    other_task = create_for(hook, ti(run_id, try_number=1, task_id="other"))
    with caplog.at_level(logging.INFO, logger="airflow_provider_browserbase.callbacks"):
        assert sorted(end_earlier_tries({"ti": ti(run_id, try_number=3)}, hook)) == sorted(earlier)
    assert {status(hook, s) for s in earlier} == {"COMPLETED"}
    assert status(hook, current) == status(hook, other_task) == "RUNNING"
    assert "left by an earlier try of etl / scrape" in caplog.text
    hook.end_session(current)
    hook.end_session(other_task)


def test_first_try_sends_no_sweep_query(hook: BrowserbaseHook, run_id: str) -> None:
    with mock.patch.object(hook, "list_sessions") as list_sessions:
        assert end_earlier_tries({"ti": ti(run_id, try_number=1)}, hook) == []
    list_sessions.assert_not_called()


def test_sweep_is_one_metadata_query_with_the_map_index(hook: BrowserbaseHook, run_id: str) -> None:
    with mock.patch.object(hook, "list_sessions", return_value=[]) as list_sessions:
        end_earlier_tries({"ti": ti(run_id, try_number=2, map_index=4)}, hook)
    list_sessions.assert_called_once_with(
        status="RUNNING",
        metadata={"airflow": {"dag_id": "etl", "task_id": "scrape", "run_id": run_id, "map_index": "4"}},
    )


def test_create_operator_sweeps_before_a_retry_creates(
    hook: BrowserbaseHook, conn_id: str, run_id: str, make_context: Callable[..., dict[str, Any]]
) -> None:
    left = create_for(hook, ti(run_id, try_number=1, task_id="create"))
    context = make_context(dag_id="etl", task_id="create", run_id=run_id, try_number=2)
    task = BrowserbaseCreateSessionOperator(task_id="create", browserbase_conn_id=conn_id, keep_alive=True)
    created = task.execute(context)["id"]
    assert status(hook, left) == "COMPLETED"
    assert status(hook, created) == "RUNNING"
    hook.end_session(created)


def user_callback(context: Any) -> None:
    """A user's own callback."""


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, [end_browserbase_sessions]),
        (user_callback, [user_callback, end_browserbase_sessions]),
        ([user_callback], [user_callback, end_browserbase_sessions]),
        ([user_callback, EndBrowserbaseSessions("x")], [user_callback, EndBrowserbaseSessions("x")]),
    ],
)
def test_cleanup_is_added_after_the_users_callbacks_once(given: Any, expected: list[Any]) -> None:
    assert with_session_cleanup(given) == expected


def make_operators(**kwargs: Any) -> list[Any]:
    return [
        BrowserbaseCreateSessionOperator(task_id="create", **kwargs),
        BrowserbasePlaywrightOperator(task_id="playwright", python_callable=user_callback, **kwargs),
    ]


def test_operators_attach_the_cleanup_to_failure_and_retry_callbacks() -> None:
    for task in make_operators(on_failure_callback=user_callback):
        assert task.on_failure_callback == [user_callback, end_browserbase_sessions]
        assert task.on_retry_callback == [end_browserbase_sessions]
    for task in make_operators(end_sessions_on_failure=False, on_failure_callback=user_callback):
        assert task.on_failure_callback == [user_callback]
        assert not task.on_retry_callback


def test_default_args_callbacks_are_kept() -> None:
    from airflow.sdk import DAG

    with DAG("cleanup_defaults", schedule=None, default_args={"on_failure_callback": user_callback}):
        tasks = make_operators()
    for task in tasks:
        assert task.on_failure_callback == [user_callback, end_browserbase_sessions]


def test_a_task_attached_to_another_tasks_session_gets_no_cleanup() -> None:
    task = BrowserbasePlaywrightOperator(task_id="use", python_callable=user_callback, session_id="abc")
    assert not task.on_failure_callback


def test_decorated_task_attaches_the_cleanup() -> None:
    from airflow.sdk import DAG, task

    with DAG("cleanup_decorator", schedule=None):

        @task.browserbase(on_failure_callback=user_callback)
        def scrape(page: Any = None) -> None: ...

        @task.browserbase(end_sessions_on_failure=False)
        def quiet(page: Any = None) -> None: ...

        attached, opted_out = scrape().operator, quiet().operator
    assert attached.on_failure_callback == [user_callback, end_browserbase_sessions]
    assert not opted_out.on_failure_callback


def test_importing_the_callbacks_is_cheap() -> None:
    loaded = in_fresh_process(["airflow_provider_browserbase.callbacks"])
    heavy = ("playwright", "httpx", "pydantic", "airflow_provider_browserbase.hooks")
    assert [m for m in loaded if any(m == h or m.startswith(h + ".") for h in heavy)] == []
