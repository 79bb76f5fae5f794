from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_browserbase.exceptions import BrowserbaseNotFoundError
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.operators.context import (
    BrowserbaseCreateContextOperator,
    BrowserbaseDeleteContextOperator,
)

if TYPE_CHECKING:
    from collections.abc import Callable


def test_create_pushes_and_returns_the_context_id_then_delete_is_idempotent(
    quick_conn: str, make_context: Callable[..., dict[str, Any]]
) -> None:
    context = make_context()
    create = BrowserbaseCreateContextOperator(
        task_id="create_context", name="{{ params.name }}", browserbase_conn_id=quick_conn
    )
    create.render_template_fields({"params": {"name": "login-for-etl"}})
    context_id = create.execute(context)
    context["ti"].xcom_push.assert_called_once_with(key="context_id", value=context_id)

    with BrowserbaseHook(quick_conn) as hook:
        assert hook.get_context(context_id).id == context_id
        delete = BrowserbaseDeleteContextOperator(
            task_id="delete_context", context_id=context_id, browserbase_conn_id=quick_conn
        )
        delete.execute(make_context())
        with pytest.raises(BrowserbaseNotFoundError):
            hook.get_context(context_id)
        delete.execute(make_context())  # already gone: still a success


def test_context_id_is_templated() -> None:
    task = BrowserbaseDeleteContextOperator(
        task_id="delete_context", context_id="{{ ti.xcom_pull(task_ids='create_context') }}"
    )
    assert "context_id" in task.template_fields
