"""A session's records: its CDP log (``/logs``) and its rrweb recording (``/recording``, deprecated)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_browserbase.hooks._context import many
from airflow_provider_browserbase.hooks._transport import ApiCall, api_path
from airflow_provider_browserbase.models import SessionLog, SessionRecordingEvent

if TYPE_CHECKING:
    from airflow_provider_browserbase.hooks._context import Operation


def get_session_logs(session_id: str) -> Operation[list[SessionLog]]:
    """``GET /v1/sessions/{id}/logs``: the CDP commands and answers of the session."""
    path = api_path("/v1/sessions/{}/logs", session_id, what="session_id")
    return many(ApiCall("get_session_logs", "GET", path, session_id=session_id), SessionLog)


def get_session_recording(session_id: str) -> Operation[list[SessionRecordingEvent]]:
    """``GET /v1/sessions/{id}/recording``: rrweb events of the first tab (deprecated by Browserbase)."""
    path = api_path("/v1/sessions/{}/recording", session_id, what="session_id")
    return many(ApiCall("get_session_recording", "GET", path, session_id=session_id), SessionRecordingEvent)
