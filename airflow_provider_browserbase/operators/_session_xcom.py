"""What an operator publishes about a session it created: masked secrets, the link, XComs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import mask_secret

from airflow_provider_browserbase.links.session import BrowserbaseSessionLink
from airflow_provider_browserbase.models import session_secrets

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
    from airflow_provider_browserbase.models import Session

SESSION_ID_XCOM_KEY = "session_id"
CONNECT_URL_XCOM_KEY = "connect_url"


def mask_session_secrets(session: Session) -> None:
    """Register the session's credentials with the log masker of this task process."""
    for secret in session_secrets(session):
        mask_secret(secret)


def publish_session(context: Context, hook: BrowserbaseHook, session: Session) -> None:
    """Mask the session's credentials, then store its link and id for the UI and downstream tasks."""
    mask_session_secrets(session)
    BrowserbaseSessionLink.persist(context, hook.session_url(session.id))
    context["ti"].xcom_push(key=SESSION_ID_XCOM_KEY, value=session.id)


def session_summary(session: Session, *, include_connect_url: bool = True) -> dict[str, Any]:
    """
    The session as a plain dict for XCom, without the signing key.

    With ``include_connect_url=False`` the connect and Selenium URLs are left out too.
    """
    summary: dict[str, Any] = {
        "id": session.id,
        "status": session.status,
        "connect_url": getattr(session, "connect_url", None),
        "selenium_remote_url": getattr(session, "selenium_remote_url", None) or None,
        "expires_at": session.expires_at.isoformat() if session.expires_at else None,
        "project_id": session.project_id,
        "region": session.region,
    }
    if not include_connect_url:
        del summary["connect_url"], summary["selenium_remote_url"]
    return summary
