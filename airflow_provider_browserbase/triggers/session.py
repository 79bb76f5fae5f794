"""Trigger that waits, in the triggerer, for a Browserbase session to reach a status."""

from __future__ import annotations

import asyncio
import math
import random
import time
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_browserbase.exceptions import BrowserbaseError
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.triggers._shared_transport import shared_async_transport
from airflow_provider_browserbase.triggers._status import (
    DEFAULT_FAILURE_STATUSES,
    DEFAULT_TARGET_STATUSES,
    EVENT_STATUSES,
    TRANSIENT_ERRORS,
    classify_session_status,
)

__all__ = [
    "DEFAULT_FAILURE_STATUSES",
    "DEFAULT_TARGET_STATUSES",
    "EVENT_STATUSES",
    "TRANSIENT_ERRORS",
    "BrowserbaseSessionTrigger",
    "classify_session_status",
]

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

# Seconds between two "still RUNNING" log lines of one trigger (a status change is always logged).
STILL_WAITING_LOG_EVERY = 60.0

# The trigger's clocks and sleep, looked up at call time so that tests can run the schedule on a fake clock.
_clock = time.monotonic
_wall_clock = time.time
_sleep = asyncio.sleep


class BrowserbaseSessionTrigger(BaseTrigger):
    """
    Poll a Browserbase session until it reaches a target status, fails, or the deadline passes.

    Yields exactly one event ``{"status", "session_id", "session_status", "message"}`` whose ``status`` is
    ``success``, ``failed``, ``timeout`` or ``error``. Transient API errors (transport errors, 429, 5xx) are
    logged and polling goes on; other API errors (401, 404...) end the wait with an ``error`` event. The
    trigger only watches: it never ends the session, not even when the task is killed.

    :param session_id: the session to watch.
    :param browserbase_conn_id: the Browserbase connection.
    :param target_statuses: statuses that end the wait successfully.
    :param failure_statuses: statuses that end the wait with a failure.
    :param poll_interval: seconds between two reads of the session.
    :param end_time: wall-clock deadline (``time.time()`` seconds); ``None`` waits without limit.
    """

    def __init__(
        self,
        session_id: str,
        browserbase_conn_id: str = BrowserbaseHook.default_conn_name,
        target_statuses: Iterable[str] = DEFAULT_TARGET_STATUSES,
        failure_statuses: Iterable[str] = DEFAULT_FAILURE_STATUSES,
        poll_interval: float = 5.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__()
        self.session_id = session_id
        self.browserbase_conn_id = browserbase_conn_id
        self.target_statuses = list(target_statuses)
        self.failure_statuses = list(failure_statuses)
        self.poll_interval = float(poll_interval)
        if not self.poll_interval > 0:
            # Zero would poll in a busy loop inside the triggerer, which every other trigger shares.
            raise ValueError(f"poll_interval must be > 0 seconds (got {poll_interval!r})")
        self.end_time = None if end_time is None else float(end_time)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "session_id": self.session_id,
                "browserbase_conn_id": self.browserbase_conn_id,
                "target_statuses": list(self.target_statuses),
                "failure_statuses": list(self.failure_statuses),
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        async with shared_async_transport() as transport:
            hook = BrowserbaseHook(self.browserbase_conn_id, async_transport=transport)
            try:
                event = await self._wait(hook)
            finally:
                await hook.aclose()
        yield TriggerEvent(event)

    async def _wait(self, hook: BrowserbaseHook) -> dict[str, Any]:
        """
        Poll on a fixed cadence until the session's outcome is known or the deadline passes.

        Polls are scheduled at ``phase + k * poll_interval`` on a monotonic clock, not ``poll_interval`` after
        the previous answer: under load an answer can take seconds, and sleeping a full interval after it
        would stretch every period by that latency (1,000 watchers measured 7.2 s between end and event
        for a 5 s interval). The first poll is immediate; the second comes after a random part of the
        interval, so the watchers of a triggerer that starts (or restarts) with many sessions spread over
        the interval instead of hitting the API in one burst every ``poll_interval`` seconds. Neither
        makes any gap between two polls longer than the interval. A poll that is late starts at once;
        after a transient error (5xx, 429, network), the next poll waits a full interval from the error
        instead, so that an API in trouble is not polled back to back. Status lines and transient-error
        warnings are written on a change and then once a minute: a triggerer may watch thousands.
        """
        last_status: str | None = None
        # warned_at goes back to -inf on every answer, so the first error after one is always written.
        logged_at = warned_at = -math.inf
        next_poll: float | None = None
        while True:
            polled_at = _clock()
            failed = False
            try:
                session = await hook.aget_session_status(self.session_id)
            except TRANSIENT_ERRORS as err:
                failed = True
                if _clock() - warned_at >= STILL_WAITING_LOG_EVERY:
                    self.log.warning(
                        "Could not read Browserbase session %s, polling again: %s", self.session_id, err
                    )
                    warned_at = _clock()
            except BrowserbaseError as err:
                return self._event("error", last_status, str(err))
            else:
                warned_at = -math.inf
                changed, last_status = session.status != last_status, session.status
                outcome = classify_session_status(
                    self.session_id, last_status, self.target_statuses, self.failure_statuses
                )
                if outcome is not None:
                    return self._event(outcome[0], last_status, outcome[1])
                # A status change, and otherwise a line a minute: a triggerer may watch thousands.
                if changed or _clock() - logged_at >= STILL_WAITING_LOG_EVERY:
                    self.log.info("Browserbase session %s is %s", self.session_id, last_status)
                    logged_at = _clock()
            remaining = None if self.end_time is None else self.end_time - _wall_clock()
            if remaining is not None and remaining <= 0:
                return self._event(
                    "timeout",
                    last_status,
                    f"Timed out waiting for Browserbase session {self.session_id} to reach "
                    f"{' or '.join(self.target_statuses)} (last status: {last_status or 'unknown'}).",
                )
            now = _clock()
            if next_poll is None:
                next_poll = polled_at + random.uniform(0, self.poll_interval)  # noqa: S311 (spreading, not secrecy)
            else:
                next_poll += self.poll_interval
            next_poll = max(next_poll, now + self.poll_interval if failed else now)
            pause = next_poll - now
            await _sleep(pause if remaining is None else min(pause, remaining))

    def _event(self, status: str, session_status: str | None, message: str) -> dict[str, Any]:
        return {
            "status": status,
            "session_id": self.session_id,
            "session_status": session_status,
            "message": message,
        }
