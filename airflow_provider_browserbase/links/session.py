"""The "Browserbase Session" extra link."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey

SESSION_URL_XCOM_KEY = "browserbase_session_url"


class StoredUrlLink(BaseOperatorLink):
    """
    A button that opens a URL a task stored in its XCom under :attr:`url_key` as soon as it had it.

    Airflow 3's UI reads a link from the XCom named by :attr:`xcom_key`, which the worker writes for
    other links only when the task ends (``_link_<class>``). Pointing it at the URL stored early makes the
    button work while the task runs, waits, defers or waits for a person; at the task's end the worker
    writes the same URL to the same key.
    """

    url_key: ClassVar[str]

    @property
    def xcom_key(self) -> str:
        return self.url_key

    @classmethod
    def persist(cls, context: Context, url: str) -> None:
        """Store the URL for this task instance."""
        context["ti"].xcom_push(key=cls.url_key, value=url)

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        url: Any = XCom.get_value(key=self.url_key, ti_key=ti_key)
        return url if isinstance(url, str) else ""


class BrowserbaseSessionLink(StoredUrlLink):
    """
    Link a task to the page of the Browserbase session it created.

    The page is the session inspector of the Browserbase dashboard, or the live view of the server the
    connection points at (``browserbase-local``). Operators call :meth:`persist` right after creating a
    session, before any waiting or deferring, so the link works while the task is still running.
    """

    name = "Browserbase Session"
    url_key = SESSION_URL_XCOM_KEY
