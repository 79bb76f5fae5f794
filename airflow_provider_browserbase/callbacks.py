"""
Task callbacks that end the Browserbase sessions a task instance left running.

``end_browserbase_sessions`` is a task callback (``on_failure_callback``, ``on_retry_callback``, on a task
or in ``default_args``): it ends every RUNNING session tagged (``userMetadata.airflow``) with the task
instance's DAG id, task id, run id, map index and try number. The operators that create sessions attach it
by default (``end_sessions_on_failure=False`` opts out).

Where Airflow runs it (read in the code of Airflow 3.1.8 and 3.3.2, seen under a real 3.3.2 scheduler with
LocalExecutor by ``tests/system/test_killed_tasks.py``):

- in the task process, when the task raises (``task_runner.finalize``);
- in the DAG processor, on a ``TaskCallbackRequest`` from the scheduler, when the task process *and* its
  supervisor are gone (a lost node, an evicted pod, the worker's container killed): once the task instance
  missed heartbeats for ``[scheduler] task_instance_heartbeat_timeout`` (300 s by default);
- in the DAG processor within seconds when only the task process was killed (the OOM killer, ``kill -9``
  of the task instance's pid) and the task has retries left: its supervisor then reports nothing and the
  scheduler sees the executor's result disagree with the RUNNING state.

It does **not** run when only the task process was killed and no retry is left (the supervisor reports
FAILED itself, and nothing runs callbacks for that), nor in the DAG processor for a mapped task (the
DAG processor reads a mapped task's callbacks from its ``partial()`` arguments, not from the operator's
``__init__``; pass the callback in ``default_args`` or ``partial()`` for that). The session guard of
``keep_alive`` sessions (``operators/_session_guard.py``), the sweep of the next try, the session timeout
that follows ``execution_timeout`` and the janitor (``BrowserbaseSessionJanitorOperator``) cover those.

Importing this module imports no HTTP client, pydantic model or Playwright: DAG files import it at parse
time. The hook is imported when the callback runs.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow.sdk import Context

log = logging.getLogger(__name__)

#: ``userMetadata`` key holding the Airflow tags (the hook adds its create nonce under it too).
AIRFLOW_METADATA_KEY = "airflow"
DEFAULT_CONN_ID = "browserbase_default"


def task_instance_tags(ti: Any, *, with_try_number: bool = True) -> dict[str, str]:
    """
    The task instance's identity as the string values sessions are tagged with (and queried by).

    :param ti: a task instance (the runtime one, or any object with the same attributes).
    :param with_try_number: include ``try_number`` (leave it out to match every try).
    """
    tags = {"dag_id": str(ti.dag_id), "task_id": str(ti.task_id), "run_id": str(ti.run_id)}
    if with_try_number:
        tags["try_number"] = str(ti.try_number)
    map_index = getattr(ti, "map_index", -1)
    if isinstance(map_index, int) and map_index >= 0:
        tags["map_index"] = str(map_index)
    return tags


class EndBrowserbaseSessions:
    """
    End every RUNNING Browserbase session tagged with the failed task instance (a task callback).

    Use the module's ``end_browserbase_sessions`` instance, which takes the connection from the task's
    ``browserbase_conn_id`` (``browserbase_default`` for a task without one), or an instance of your own
    for a given connection::

        default_args = {"on_failure_callback": EndBrowserbaseSessions(browserbase_conn_id="bb_prod")}

    One metadata query (``GET /v1/sessions?status=RUNNING&q=user_metadata['airflow'][...]``), then one
    release per session found, each logged. Errors are logged, never raised: a callback that raises
    changes nothing for the task, and the next session is still worth ending.

    Sessions whose tags were shortened to fit a large ``user_metadata`` (see ``tag_user_metadata``) do not
    match the query; the session timeout and the janitor end those.

    :param browserbase_conn_id: the connection to use; ``None`` reads the task's ``browserbase_conn_id``.
    """

    def __init__(self, browserbase_conn_id: str | None = None) -> None:
        self.browserbase_conn_id = browserbase_conn_id
        # Airflow names a callback by its __name__ in the DAG processor's log.
        self.__name__ = "end_browserbase_sessions"

    def __repr__(self) -> str:
        conn = f"browserbase_conn_id={self.browserbase_conn_id!r}" if self.browserbase_conn_id else ""
        return f"EndBrowserbaseSessions({conn})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EndBrowserbaseSessions):
            return NotImplemented
        return other.browserbase_conn_id == self.browserbase_conn_id

    def __hash__(self) -> int:
        return hash((EndBrowserbaseSessions, self.browserbase_conn_id))

    def conn_id_for(self, context: Mapping[str, Any]) -> str:
        if self.browserbase_conn_id:
            return self.browserbase_conn_id
        task = context.get("task")
        conn_id = getattr(task, "browserbase_conn_id", None) or DEFAULT_CONN_ID
        # ``browserbase_conn_id`` is a template field. In the task process the task was rendered before the
        # callback runs; the DAG processor runs the callback of a task whose process died with the parsed,
        # unrendered task, so render it here with the same context.
        render = getattr(task, "render_template", None)
        if isinstance(conn_id, str) and "{{" in conn_id and callable(render):
            conn_id = render(conn_id, context)
        return str(conn_id)

    def __call__(self, context: Context) -> list[str]:
        """End the sessions; returns the ids of those it asked to end."""
        ti = context["ti"]
        tags = task_instance_tags(ti)
        try:
            from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

            hook = BrowserbaseHook(self.conn_id_for(context))
            return end_tagged_sessions(hook, tags, reason=f"task instance {_describe(tags)} did not finish")
        except Exception:
            log.warning("Could not look for the Browserbase sessions of %s", _describe(tags), exc_info=True)
            return []


def end_tagged_sessions(
    hook: Any, tags: Mapping[str, str], *, reason: str, keep: Any = None, only_tries_below: int | None = None
) -> list[str]:
    """
    End every RUNNING session whose ``userMetadata.airflow`` holds ``tags``; one list query.

    :param hook: a ``BrowserbaseHook``.
    :param tags: the tag values to match (string equality on the server).
    :param reason: said in the log line of each session ended.
    :param keep: a predicate on a session: ``True`` leaves it running.
    :param only_tries_below: end only sessions tagged with a lower ``try_number`` than this.
    :returns: the ids of the sessions asked to end.
    """
    sessions = hook.list_sessions(status="RUNNING", metadata={AIRFLOW_METADATA_KEY: dict(tags)})
    ended: list[str] = []
    for session in sessions:
        tagged = (session.user_metadata or {}).get(AIRFLOW_METADATA_KEY) or {}
        if only_tries_below is not None and not _try_below(tagged.get("try_number"), only_tries_below):
            continue
        if keep is not None and keep(session):
            continue
        try:
            hook.end_session(session.id)
        except Exception:
            log.warning("Could not end Browserbase session %s", session.id, exc_info=True)
            continue
        ended.append(session.id)
        log.info(
            "Ended Browserbase session %s (try %s): %s", session.id, tagged.get("try_number", "?"), reason
        )
    return ended


def _try_below(value: Any, limit: int) -> bool:
    try:
        return int(value) < limit
    except (TypeError, ValueError):
        return False


def _describe(tags: Mapping[str, str]) -> str:
    parts = [tags.get("dag_id", "?"), tags.get("task_id", "?"), tags.get("run_id", "?")]
    if "map_index" in tags:
        parts.append(f"map_index={tags['map_index']}")
    if "try_number" in tags:
        parts.append(f"try {tags['try_number']}")
    return " / ".join(parts)


#: The callback for ``on_failure_callback`` / ``on_retry_callback`` (the task's ``browserbase_conn_id``).
end_browserbase_sessions = EndBrowserbaseSessions()


def with_session_cleanup(callbacks: Any, callback: EndBrowserbaseSessions | None = None) -> list[Any]:
    """
    ``callbacks`` (``None``, one callable or a list, as ``BaseOperator`` takes them) plus ``callback``.

    The user's callbacks stay first and untouched; the cleanup is not added twice (a user may already have
    put it in ``default_args``).
    """
    callback = callback or end_browserbase_sessions
    if callbacks is None:
        existing: list[Any] = []
    elif callable(callbacks):
        existing = [callbacks]
    else:
        existing = list(callbacks)
    if any(isinstance(item, EndBrowserbaseSessions) for item in existing):
        return existing
    return [*existing, callback]


def attach_session_cleanup(operator: Any) -> None:
    """Add ``end_browserbase_sessions`` to the operator's failure and retry callbacks, keeping the user's."""
    operator.on_failure_callback = with_session_cleanup(operator.on_failure_callback)
    operator.on_retry_callback = with_session_cleanup(operator.on_retry_callback)


def end_earlier_tries(context: Context, hook: Any) -> list[str]:
    """
    Before try N > 1 creates a session: end the RUNNING sessions earlier tries of this task instance left.

    A try whose process was killed (``kill -9``, the OOM killer) ran no clean-up and, with its supervisor
    alive, no callback either; its ``keep_alive`` sessions would run until their timeout. One metadata
    query (DAG id, task id, run id, map index), filtered to lower try numbers; best effort, never raises.
    """
    ti = context["ti"]
    try_number = int(getattr(ti, "try_number", 1) or 1)
    if try_number <= 1:
        return []
    tags = task_instance_tags(ti, with_try_number=False)
    try:
        return end_tagged_sessions(
            hook,
            tags,
            reason=f"left by an earlier try of {_describe(tags)}; try {try_number} starts",
            only_tries_below=try_number,
        )
    except Exception:
        log.warning("Could not look for sessions left by earlier tries of %s", _describe(tags), exc_info=True)
        return []
