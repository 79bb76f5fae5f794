"""``@task.browserbase``: a TaskFlow task that gets a Playwright page in a Browserbase session."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import DecoratedOperator, task_decorator_factory

from airflow_provider_browserbase.operators.playwright import (
    INJECTED_ARGS,
    BrowserbasePlaywrightOperator,
    bind_past_injected,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

    from airflow.providers.common.compat.sdk import TaskDecorator


class _BrowserbaseDecoratedOperator(DecoratedOperator, BrowserbasePlaywrightOperator):
    """
    Run the decorated function with a Playwright page in a Browserbase session.

    :param python_callable: the decorated function.
    :param op_args: positional arguments for the function (templated).
    :param op_kwargs: keyword arguments for the function (templated).
    """

    template_fields: Sequence[str] = BrowserbasePlaywrightOperator.template_fields
    template_fields_renderers = BrowserbasePlaywrightOperator.template_fields_renderers
    custom_operator_name: str = "@task.browserbase"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # The page, browser, session and context arrive when the task runs; DecoratedOperator checks the
        # call against the signature at parse time, so stand in for them until then.
        parameters = inspect.signature(python_callable).parameters
        op_args, op_kwargs = bind_past_injected(python_callable, op_args or [], op_kwargs or {})
        for name in INJECTED_ARGS:
            if name in parameters:
                op_kwargs.setdefault(name, None)
        super().__init__(
            kwargs_to_upstream={
                "python_callable": python_callable,
                "op_args": op_args,
                "op_kwargs": op_kwargs,
            },
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            **kwargs,
        )


def browserbase_task(
    python_callable: Callable[..., Any] | None = None,
    multiple_outputs: bool | None = None,
    **kwargs: Any,
) -> TaskDecorator:
    """
    Turn a function into a task that runs with a Playwright page in a fresh Browserbase session.

    The function gets ``page``, ``browser``, ``session`` and ``context`` when its signature names them;
    the session is ended however the task ends. Keyword arguments are those of
    :class:`~airflow_provider_browserbase.operators.playwright.BrowserbasePlaywrightOperator` (session
    settings, ``session_id`` to attach to an existing session, ``browserbase_conn_id``...)::

        @task.browserbase(session_timeout=300)
        def title(url: str, page=None) -> str:
            page.goto(url)
            return page.title()

    :param python_callable: the function to decorate.
    :param multiple_outputs: push each key of a returned dict as its own XCom.
    """
    return task_decorator_factory(
        python_callable=python_callable,
        multiple_outputs=multiple_outputs,
        decorated_operator_class=_BrowserbaseDecoratedOperator,
        **kwargs,
    )
