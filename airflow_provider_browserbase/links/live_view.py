"""The "Browserbase Live View" extra link of a live handoff: the page a person works in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey

LIVE_VIEW_URL_XCOM_KEY = "browserbase_live_view_url"


class BrowserbaseLiveViewLink(BaseOperatorLink):
    """
    Link a task to the live view of the session it hands to a person (``debuggerFullscreenUrl``).

    The URL carries the live view's capability (whoever opens it controls the browser until the session
    ends): it is stored in the task's XCom for this link, as the "Browserbase Session" link stores its own,
    and it is masked in the task's logs. :class:`BrowserbaseLiveHandoffOperator` persists it before it
    waits for the person, so the link works while the task waits.
    """

    name = "Browserbase Live View"

    @property
    def xcom_key(self) -> str:
        # The UI reads the XCom this names: the URL persisted before the wait, as for the session link.
        return LIVE_VIEW_URL_XCOM_KEY

    @staticmethod
    def persist(context: Context, live_view_url: str) -> None:
        """Store the live view's URL for this task instance."""
        context["ti"].xcom_push(key=LIVE_VIEW_URL_XCOM_KEY, value=live_view_url)

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        url: Any = XCom.get_value(key=LIVE_VIEW_URL_XCOM_KEY, ti_key=ti_key)
        return url if isinstance(url, str) else ""
