"""
What waiting for a session decides, shared by the sensor (in a worker) and the trigger (in the triggerer).

Kept apart from ``triggers.session`` so that the sensor, imported by DAG files at every parse, does not
import Airflow's trigger machinery: it needs the trigger class only when it defers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_browserbase.exceptions import (
    BrowserbaseConnectionError,
    BrowserbaseRateLimitError,
    BrowserbaseServerError,
)
from airflow_provider_browserbase.models import SessionStatus, is_terminal

if TYPE_CHECKING:
    from collections.abc import Iterable

DEFAULT_TARGET_STATUSES: tuple[str, ...] = (SessionStatus.COMPLETED,)
DEFAULT_FAILURE_STATUSES: tuple[str, ...] = (SessionStatus.ERROR, SessionStatus.TIMED_OUT)

#: Every ``status`` a :class:`BrowserbaseSessionTrigger` event can carry.
EVENT_STATUSES: frozenset[str] = frozenset({"success", "failed", "timeout", "error"})

# Worth another poll: the API may answer next time. Anything else (401, 404...) will not change.
TRANSIENT_ERRORS = (BrowserbaseConnectionError, BrowserbaseRateLimitError, BrowserbaseServerError)


def classify_session_status(
    session_id: str,
    status: str | None,
    target_statuses: Iterable[str],
    failure_statuses: Iterable[str],
) -> tuple[str, str] | None:
    """
    Decide whether waiting for a session is over.

    :return: ``None`` to keep waiting, else ``("success" | "failed", message)``. A terminal status that is
        neither a target nor a failure status is a failure too: the session can never reach a target.
    """
    targets = tuple(target_statuses)
    if status in targets:
        return "success", f"Browserbase session {session_id} reached status {status}."
    if status in tuple(failure_statuses):
        return "failed", f"Browserbase session {session_id} ended with status {status}."
    if is_terminal(status):
        return "failed", (
            f"Browserbase session {session_id} ended with status {status} "
            f"without reaching {' or '.join(targets)}."
        )
    return None
