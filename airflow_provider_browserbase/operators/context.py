"""Operators that create and delete Browserbase contexts (saved browser state, e.g. a login)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_browserbase.exceptions import BrowserbaseNotFoundError
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context, XComArg

CONTEXT_ID_XCOM_KEY = "context_id"


class BrowserbaseCreateContextOperator(BaseOperator):
    """
    Create a Browserbase context and return its id (also pushed under the XCom key ``context_id``).

    A context keeps cookies and storage across sessions: log in once in a session created with
    ``context_id=<this id>`` and ``persist_context=True``, wait with ``BrowserbaseSessionSensor`` until that
    session is COMPLETED (the context is saved when the session ends), then reuse the context.

    :param name: an optional name, unique in the project.
    :param project_id: the project; defaults to the connection's ``project_id`` extra.
    :param browserbase_conn_id: the Browserbase connection (templated).
    """

    template_fields: Sequence[str] = ("name", "project_id", "browserbase_conn_id")
    ui_color = "#f4e3ff"

    def __init__(
        self,
        *,
        name: str | None = None,
        project_id: str | None = None,
        browserbase_conn_id: str = BrowserbaseHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.project_id = project_id
        self.browserbase_conn_id = browserbase_conn_id

    @cached_property
    def hook(self) -> BrowserbaseHook:
        return BrowserbaseHook(self.browserbase_conn_id)

    def execute(self, context: Context) -> str:
        created = self.hook.create_context(name=self.name, project_id=self.project_id)
        context["ti"].xcom_push(key=CONTEXT_ID_XCOM_KEY, value=created.id)
        self.log.info("Created Browserbase context %s", created.id)
        return created.id


class BrowserbaseDeleteContextOperator(BaseOperator):
    """
    Delete a Browserbase context. A context that no longer exists counts as deleted.

    :param context_id: the context to delete (templated).
    :param browserbase_conn_id: the Browserbase connection (templated).
    """

    template_fields: Sequence[str] = ("context_id", "browserbase_conn_id")
    ui_color = "#f4e3ff"

    def __init__(
        self,
        *,
        context_id: str | XComArg,
        browserbase_conn_id: str = BrowserbaseHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # An XComArg is resolved to its value when the task's templates are rendered, before execute.
        self.context_id = cast("str", context_id)
        self.browserbase_conn_id = browserbase_conn_id

    @cached_property
    def hook(self) -> BrowserbaseHook:
        return BrowserbaseHook(self.browserbase_conn_id)

    def execute(self, context: Context) -> None:
        try:
            self.hook.delete_context(self.context_id)
        except BrowserbaseNotFoundError:
            self.log.info("Browserbase context %s does not exist; nothing to delete", self.context_id)
            return
        self.log.info("Deleted Browserbase context %s", self.context_id)
