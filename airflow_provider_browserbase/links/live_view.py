"""The "Browserbase Live View" extra link of a live handoff: the page a person works in."""

from __future__ import annotations

from airflow_provider_browserbase.links.session import StoredUrlLink

LIVE_VIEW_URL_XCOM_KEY = "browserbase_live_view_url"


class BrowserbaseLiveViewLink(StoredUrlLink):
    """
    Link a task to the live view of the session it hands to a person (``debuggerFullscreenUrl``).

    The URL carries the live view's capability (whoever opens it controls the browser until the session
    ends): it is stored in the task's XCom for this link, as the "Browserbase Session" link stores its own,
    and it is masked in the task's logs. :class:`BrowserbaseLiveHandoffOperator` persists it before it
    waits for the person, so the link works while the task waits.
    """

    name = "Browserbase Live View"
    url_key = LIVE_VIEW_URL_XCOM_KEY
