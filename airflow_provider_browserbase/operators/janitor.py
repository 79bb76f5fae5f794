"""Operator that ends the Browserbase sessions Airflow tasks left running."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_browserbase.callbacks import AIRFLOW_METADATA_KEY
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context

    from airflow_provider_browserbase.models import Session

#: Task instance states in which a task may still use its session (Airflow's own state names).
LIVE_TASK_STATES = frozenset(
    {"running", "deferred", "queued", "scheduled", "restarting", "up_for_reschedule", "awaiting_input"}
)
#: DAG run states in which a downstream task may still use a session an upstream task created.
LIVE_RUN_STATES = frozenset({"running", "queued"})


class BrowserbaseSessionJanitorOperator(BaseOperator):
    """
    End the RUNNING Browserbase sessions that Airflow tasks left behind (run it from a maintenance DAG).

    It lists the RUNNING sessions (one request; the list is account-wide) and looks at those tagged by
    Airflow (``userMetadata.airflow``, which the provider's operators add). A session is ended when

    - it is older than ``max_age``, or
    - its task instance is no longer in a state that can use it (running, deferred, queued, scheduled,
      restarting, up for reschedule, awaiting input) **and** its DAG run is no longer running or queued: a
      session made by ``BrowserbaseCreateSessionOperator`` for downstream tasks outlives its own task, but
      not its run; or
    - its task instance or DAG run no longer exists.

    States are read as a task reads them, through the task SDK (``ti.get_task_states`` and
    ``ti.get_dagrun_state``: the Execution API, in Airflow 3.1 to 3.3), never from the metadata database.
    A session whose state cannot be read is kept (and reported), unless it is older than ``max_age``.
    Sessions without the Airflow tag are never touched: other clients may share the API key.

    The return value (XCom) is the report: ``dry_run``, ``ended`` (or, in a dry run, ``would_end``) and
    ``kept``, each a list of ``{"session_id", "dag_id", "task_id", "run_id", "map_index", "try_number",
    "reason"}``; every decision is logged too.

    :param browserbase_conn_id: the Browserbase connection (templated).
    :param max_age: end tagged sessions created longer ago than this, whatever their task's state
        (``None``, the default: no age limit). Choose it longer than any of your tasks holds a session;
        Browserbase itself ends every session after at most 6 hours.
    :param report_only: a dry run: report what would be ended, end nothing (templated; ``"true"`` and
        ``"false"`` are read as booleans). Not called ``dry_run``: that is a ``BaseOperator`` method.
    :param api_timeout: seconds to wait for each API answer.
    """

    template_fields: Sequence[str] = ("report_only", "browserbase_conn_id")
    ui_color = "#f4e3ff"

    def __init__(
        self,
        *,
        browserbase_conn_id: str = BrowserbaseHook.default_conn_name,
        max_age: timedelta | None = None,
        report_only: bool | str = False,
        api_timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if max_age is not None and max_age <= timedelta(0):
            raise ValueError(f"max_age must be positive or None, got {max_age}")
        self.browserbase_conn_id = browserbase_conn_id
        self.max_age = max_age
        self.report_only = report_only
        self.api_timeout = api_timeout

    @cached_property
    def hook(self) -> BrowserbaseHook:
        return BrowserbaseHook(self.browserbase_conn_id, api_timeout=self.api_timeout)

    def execute(self, context: Context) -> dict[str, Any]:
        self.report_only = _as_bool(self.report_only, "report_only")
        states = _StateReader(context["ti"])
        now = datetime.now(UTC)
        ended_key = "would_end" if self.report_only else "ended"
        report: dict[str, Any] = {"dry_run": self.report_only, ended_key: [], "kept": []}
        for session in self.hook.list_sessions(status="RUNNING"):
            tags = airflow_tags_of(session)
            if tags is None:
                continue
            end, reason = self.decide(session, tags, states, now)
            entry = {"session_id": session.id, **_identity(tags), "reason": reason}
            if not end:
                report["kept"].append(entry)
                self.log.info("Keeping Browserbase session %s: %s", session.id, reason)
            elif self.report_only:
                report[ended_key].append(entry)
                self.log.info("Dry run: would end Browserbase session %s: %s", session.id, reason)
            elif self._end(session.id):
                report[ended_key].append(entry)
                self.log.info("Ended Browserbase session %s: %s", session.id, reason)
            else:
                report["kept"].append({**entry, "reason": f"could not end it ({reason})"})
        self.log.info(
            "Janitor: %d session(s) %s, %d kept",
            len(report[ended_key]),
            "would be ended" if self.report_only else "ended",
            len(report["kept"]),
        )
        return report

    def decide(
        self, session: Session, tags: Mapping[str, str], states: _StateReader, now: datetime
    ) -> tuple[bool, str]:
        """Whether to end ``session``, and why (or why not)."""
        created = session.created_at
        if self.max_age is not None and created is not None:
            created = created if created.tzinfo else created.replace(tzinfo=UTC)
            if now - created > self.max_age:
                return True, f"older than max_age ({self.max_age}; created {created.isoformat()})"
        who = _describe(tags)
        if not tags.get("dag_id") or not tags.get("task_id") or not tags.get("run_id"):
            return False, f"its Airflow tag names no task instance ({who})"
        try:
            task_state = states.task_state(tags)
            run_state = states.run_state(tags["dag_id"], tags["run_id"])
        except Exception as err:
            return False, f"could not read the state of {who}: {type(err).__name__}: {err}"
        if task_state in LIVE_TASK_STATES:
            return False, f"{who} is {task_state}"
        if run_state in LIVE_RUN_STATES:
            return False, f"{who} is {task_state or 'gone'} but its DAG run is {run_state}"
        return True, f"{who} is {task_state or 'gone'} and its DAG run is {run_state or 'gone'}"

    def _end(self, session_id: str) -> bool:
        try:
            self.hook.end_session(session_id)
        except Exception:
            self.log.warning("Could not end Browserbase session %s", session_id, exc_info=True)
            return False
        return True


class _StateReader:
    """Task instance and DAG run states through the task SDK, one request per DAG run (cached)."""

    def __init__(self, ti: Any) -> None:
        self.ti = ti
        self._task_states: dict[tuple[str, str], dict[str, Any]] = {}
        self._run_states: dict[tuple[str, str], str | None] = {}

    def task_state(self, tags: Mapping[str, str]) -> str | None:
        key = (tags["dag_id"], tags["run_id"])
        if key not in self._task_states:
            states = self.ti.get_task_states(dag_id=key[0], run_ids=[key[1]])
            self._task_states[key] = dict((states or {}).get(key[1]) or {})
        name = tags["task_id"]
        if tags.get("map_index"):
            name = f"{name}_{tags['map_index']}"  # how the Execution API names a mapped instance
        state = self._task_states[key].get(name)
        return None if state is None else str(getattr(state, "value", state))

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        key = (dag_id, run_id)
        if key not in self._run_states:
            try:
                state = self.ti.get_dagrun_state(dag_id=dag_id, run_id=run_id)
            except Exception as err:
                if _is_not_found(err):
                    state = None
                else:
                    raise
            self._run_states[key] = None if state is None else str(getattr(state, "value", state))
        return self._run_states[key]


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def _is_not_found(err: Exception) -> bool:
    """The task SDK reports a missing DAG run as an error response (``DAGRUN_NOT_FOUND`` / HTTP 404)."""
    text = f"{type(err).__name__} {err} {getattr(err, 'error', '')} {getattr(err, 'detail', '')}".lower()
    return "not_found" in text or "not found" in text or "404" in text


def airflow_tags_of(session: Session) -> dict[str, str] | None:
    """The ``userMetadata.airflow`` tags of a session, or ``None`` when Airflow did not create it."""
    tags = (session.user_metadata or {}).get(AIRFLOW_METADATA_KEY)
    if not isinstance(tags, dict) or not tags.get("dag_id"):
        return None
    return {str(k): str(v) for k, v in tags.items() if k != "nonce"}


def _identity(tags: Mapping[str, str]) -> dict[str, str | None]:
    return {name: tags.get(name) for name in ("dag_id", "task_id", "run_id", "map_index", "try_number")}


def _describe(tags: Mapping[str, str]) -> str:
    parts = [f"{tags.get('dag_id')}.{tags.get('task_id')}", f"run {tags.get('run_id')}"]
    if tags.get("map_index"):
        parts.append(f"map_index {tags['map_index']}")
    if tags.get("try_number"):
        parts.append(f"try {tags['try_number']}")
    return "task instance " + ", ".join(parts)


__all__ = ["BrowserbaseSessionJanitorOperator"]
