from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any
from unittest import mock

import pendulum
import pytest
from airflow.sdk import DAG, task

from airflow_provider_browserbase.decorators.browserbase import (
    _BrowserbaseDecoratedOperator,
    browserbase_task,
)
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.links.session import BrowserbaseSessionLink

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.server import LocalServer


def context_for(run_id: str = "manual__1") -> dict[str, Any]:
    ti = mock.MagicMock(dag_id="dag", task_id="task", run_id=run_id, try_number=1, map_index=-1)
    return {"ti": ti, "params": {}, "run_id": run_id}


def session_ids(context: dict[str, Any]) -> list[str]:
    return [
        c.kwargs["value"] for c in context["ti"].xcom_push.call_args_list if c.kwargs["key"] == "session_id"
    ]


def test_task_browserbase_is_registered_by_the_provider() -> None:
    assert task.browserbase is browserbase_task


def test_injected_arguments_need_not_be_passed_when_the_dag_is_parsed() -> None:
    with DAG("parse_only", schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as dag:

        @task.browserbase(session_timeout=120, region="{{ params.region }}", keep_alive=True)
        def scrape(page, url, browser, session, context):  # type: ignore[no-untyped-def]
            return url

        scrape("https://example.com")

    operator = dag.get_task("scrape")
    assert isinstance(operator, _BrowserbaseDecoratedOperator)
    assert operator.custom_operator_name == "@task.browserbase"
    assert not operator.op_args  # bound to url by name
    assert operator.op_kwargs == {
        "url": "https://example.com",
        "page": None,
        "browser": None,
        "session": None,
        "context": None,
    }
    assert (operator.session_timeout, operator.region, operator.keep_alive) == (
        120,
        "{{ params.region }}",
        True,
    )
    assert {"op_kwargs", "region", "session_settings"} <= set(operator.template_fields)
    assert any(isinstance(link, BrowserbaseSessionLink) for link in operator.operator_extra_links)


def test_functions_without_injected_arguments_are_left_alone() -> None:
    with DAG("parse_plain", schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as dag:

        @task.browserbase
        def plain(x: int) -> int:
            return x

        plain(1)

    assert dag.get_task("plain").op_kwargs == {"x": 1}


def test_a_missing_argument_of_the_user_still_fails_at_parse_time() -> None:
    @task.browserbase
    def needs_url(page, url):  # type: ignore[no-untyped-def]
        return url

    with (
        DAG("parse_bad", schedule=None, start_date=pendulum.datetime(2026, 1, 1)),
        pytest.raises(TypeError, match="url"),
    ):
        needs_url()


def test_runs_with_a_page_and_returns_its_content(local_server: LocalServer) -> None:
    with DAG("run_page", schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as dag:

        @task.browserbase(session_timeout=120)
        def heading(page, url, session):  # type: ignore[no-untyped-def]
            page.goto(url)
            return {"h1": page.inner_text("h1"), "session": session.id}

        heading(f"{local_server.base_url}/demo/products")

    run_id = f"decorator-{uuid.uuid4().hex}"
    context = context_for(run_id)
    result = dag.get_task("heading").execute(context)
    assert result["h1"]
    assert session_ids(context) == [result["session"]]
    with BrowserbaseHook() as hook:
        deadline = time.monotonic() + 15
        while not hook.get_session(result["session"]).is_terminal and time.monotonic() < deadline:
            time.sleep(0.1)
        assert hook.get_session(result["session"]).status == "COMPLETED"
        assert hook.list_sessions(status="RUNNING", metadata={"airflow": {"run_id": run_id}}) == []
