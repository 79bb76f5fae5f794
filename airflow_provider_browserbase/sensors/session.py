"""Sensor that waits for a Browserbase session to reach a status."""

from __future__ import annotations

import time
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from airflow.providers.common.compat.sdk import AirflowSensorTimeout, BaseSensorOperator, conf

from airflow_provider_browserbase.exceptions import BrowserbaseError, BrowserbaseSessionError
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.triggers._status import (
    DEFAULT_FAILURE_STATUSES,
    DEFAULT_TARGET_STATUSES,
    EVENT_STATUSES,
    TRANSIENT_ERRORS,
    classify_session_status,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from airflow.sdk import Context, XComArg


class BrowserbaseSessionSensor(BaseSensorOperator):
    """
    Wait until a Browserbase session reaches a target status (by default ``COMPLETED``).

    A typical use is the login flow of a context: a session created with ``persist_context=True`` saves
    the context only when it ends, so a later session can reuse the login once this sensor has seen the
    first one COMPLETED. A failure status (by default ``ERROR`` or ``TIMED_OUT``), or any other terminal
    status that is not a target, fails the task with the session id and status in the message.

    Works in ``poke`` and ``reschedule`` modes. With ``deferrable=True`` it pokes once and, if the session
    is not there yet, hands the wait to :class:`BrowserbaseSessionTrigger` with a wall-clock deadline of
    ``timeout`` seconds. Transient API errors (transport errors, 429, 5xx) count as "not yet". Killing the
    sensor never ends the session it watches.

    :param session_id: the session to watch (templated, e.g. from the create task's XCom).
    :param target_statuses: statuses that end the wait successfully.
    :param failure_statuses: statuses that fail the task at once.
    :param browserbase_conn_id: the Browserbase connection (templated).
    :param deferrable: wait in the triggerer instead of a worker slot
        (default: ``[operators] default_deferrable``).
    :param poke_interval: seconds between two reads of the session.
    """

    template_fields: Sequence[str] = ("session_id", "browserbase_conn_id")
    ui_color = "#f4e3ff"

    def __init__(
        self,
        *,
        session_id: str | XComArg,
        target_statuses: Iterable[str] = DEFAULT_TARGET_STATUSES,
        failure_statuses: Iterable[str] = DEFAULT_FAILURE_STATUSES,
        browserbase_conn_id: str = BrowserbaseHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: float = 5,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        # An XComArg is resolved to its value when the task's templates are rendered, before execute.
        self.session_id = cast("str", session_id)
        self.target_statuses = tuple(target_statuses)
        self.failure_statuses = tuple(failure_statuses)
        self.browserbase_conn_id = browserbase_conn_id
        self.deferrable = deferrable
        if not self.target_statuses:
            raise ValueError("target_statuses must name at least one session status")
        if self.deferrable and self.poke_interval <= 0:
            # A zero interval would make the trigger poll in a busy loop inside the shared triggerer.
            raise ValueError(f"poke_interval must be > 0 seconds when deferrable (got {poke_interval!r})")

    @cached_property
    def hook(self) -> BrowserbaseHook:
        return BrowserbaseHook(self.browserbase_conn_id)

    def poke(self, context: Context) -> bool:
        try:
            session = self.hook.get_session_status(self.session_id)
        except TRANSIENT_ERRORS as err:
            self.log.warning(
                "Could not read Browserbase session %s, will try again: %s", self.session_id, err
            )
            return False
        outcome = classify_session_status(
            self.session_id, session.status, self.target_statuses, self.failure_statuses
        )
        if outcome is None:
            self.log.info("Browserbase session %s is %s", self.session_id, session.status)
            return False
        result, message = outcome
        if result == "failed":
            raise BrowserbaseSessionError(self.session_id, session.status, message)
        self.log.info(message)
        return True

    def execute(self, context: Context) -> None:
        if not self.deferrable:
            super().execute(context)
            return
        if self.poke(context):
            return
        # Imported here: DAG files import this sensor at every parse; the trigger is needed only to defer.
        from airflow_provider_browserbase.triggers.session import BrowserbaseSessionTrigger

        self.defer(
            trigger=BrowserbaseSessionTrigger(
                session_id=self.session_id,
                browserbase_conn_id=self.browserbase_conn_id,
                target_statuses=self.target_statuses,
                failure_statuses=self.failure_statuses,
                poll_interval=self.poke_interval,
                end_time=time.time() + self.timeout,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        """Resume after the trigger fired: succeed, or fail with the trigger's reason."""
        if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES:
            raise BrowserbaseError(
                f"Unexpected event from the trigger watching Browserbase session {self.session_id}: {event!r}"
            )
        if event.get("session_id") != self.session_id:
            raise BrowserbaseError(
                f"The trigger reported on session {event.get('session_id')!r}, "
                f"but this task watches {self.session_id!r}"
            )
        status, message = event["status"], str(event.get("message") or "")
        if status == "success":
            self.log.info(message)
            return
        if status == "failed":
            raise BrowserbaseSessionError(self.session_id, event.get("session_status"), message)
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        raise BrowserbaseError(message)
