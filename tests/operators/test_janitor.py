"""The janitor's decisions, against ``browserbase-local --no-browser`` and a task instance whose state
lookups (the task SDK's ``get_task_states`` / ``get_dagrun_state``) answer from a table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.operators.janitor import BrowserbaseSessionJanitorOperator
from tests.support import connection_uri_env

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_browserbase.local.server import LocalServer

CONN_ID = "browserbase_janitor"


class NotFound(Exception):
    """What the task SDK raises for a DAG run the API server does not know (its text names a 404)."""

    def __init__(self) -> None:
        super().__init__("API_SERVER_ERROR: {'status_code': 404, 'message': 'Not Found'}")


class FakeTaskInstance:
    """The janitor's own ``ti``: ``runs`` maps run id -> (run state, {task key: state})."""

    def __init__(self, runs: dict[str, tuple[str, dict[str, str]]], broken: bool = False) -> None:
        self.runs = runs
        self.broken = broken
        self.task_state_calls: list[tuple[str, list[str]]] = []

    def get_task_states(self, dag_id: str, run_ids: list[str], **_: Any) -> dict[str, dict[str, str]]:
        self.task_state_calls.append((dag_id, run_ids))
        if self.broken:
            raise ConnectionError("execution API unreachable")
        return {run_id: self.runs[run_id][1] for run_id in run_ids if run_id in self.runs}

    def get_dagrun_state(self, dag_id: str, run_id: str) -> str:
        if run_id not in self.runs:
            raise NotFound()
        return self.runs[run_id][0]


@pytest.fixture
def hook(api_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[BrowserbaseHook]:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}", connection_uri_env(api_server.base_url, api_server.api_key)
    )
    with BrowserbaseHook(CONN_ID) as hook:
        yield hook


@pytest.fixture
def dag_id() -> str:
    """A DAG id of each test's own; the janitor sees every session of the server."""
    return f"etl_{uuid.uuid4().hex[:8]}"


def tagged(hook: BrowserbaseHook, dag_id: str, run_id: str, task_id: str = "scrape", **more: str) -> str:
    tags = {"dag_id": dag_id, "task_id": task_id, "run_id": run_id, "try_number": "1", **more}
    return hook.create_session(keep_alive=True, user_metadata={"airflow": tags}).id


def janitor(**kwargs: Any) -> BrowserbaseSessionJanitorOperator:
    return BrowserbaseSessionJanitorOperator(task_id="janitor", browserbase_conn_id=CONN_ID, **kwargs)


def status(hook: BrowserbaseHook, session_id: str) -> str:
    return hook.get_session_status(session_id).status


def by_id(report: dict[str, Any], key: str) -> dict[str, str]:
    return {entry["session_id"]: entry["reason"] for entry in report[key]}


def test_ends_sessions_of_finished_task_instances_and_keeps_live_ones(
    hook: BrowserbaseHook, dag_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ti = FakeTaskInstance(
        {
            "done": ("failed", {"scrape": "failed", "fan_2": "success"}),
            "live": ("running", {"scrape": "running", "create": "success", "wait": "deferred"}),
        }
    )
    ended_expected = {
        tagged(hook, dag_id, "done"): "is failed and its DAG run is failed",
        tagged(hook, dag_id, "done", task_id="fan", map_index="2"): "map_index 2, try 1 is success",
        tagged(hook, dag_id, "gone"): "is gone and its DAG run is gone",
    }
    kept_expected = {
        tagged(hook, dag_id, "live"): "is running",
        tagged(hook, dag_id, "live", task_id="wait"): "is deferred",
        # A session a create task made for downstream tasks lives as long as its DAG run.
        tagged(hook, dag_id, "live", task_id="create"): "is success but its DAG run is running",
    }
    untagged = hook.create_session(keep_alive=True, user_metadata={"team": "data"}).id
    report = janitor(max_age=None).execute({"ti": ti})
    logged = capsys.readouterr().out  # the operator logs through Airflow's structlog, to stdout
    ended, kept = by_id(report, "ended"), by_id(report, "kept")
    for session_id, reason in ended_expected.items():
        assert reason in ended[session_id]
        assert status(hook, session_id) == "COMPLETED"
        assert f"Ended Browserbase session {session_id}: task instance {dag_id}." in logged
    for session_id, reason in kept_expected.items():
        assert kept[session_id].endswith(reason)
        assert status(hook, session_id) == "RUNNING"
    assert untagged not in {**ended, **kept}
    assert status(hook, untagged) == "RUNNING"
    # One state lookup per DAG run, however many sessions it has.
    mine = [call for call in ti.task_state_calls if call[0] == dag_id]
    assert sorted(mine) == [(dag_id, ["done"]), (dag_id, ["gone"]), (dag_id, ["live"])]
    for session_id in [*kept_expected, untagged]:
        hook.end_session(session_id)


def test_report_only_ends_nothing(hook: BrowserbaseHook, dag_id: str) -> None:
    left = tagged(hook, dag_id, "done")
    ti = FakeTaskInstance({"done": ("success", {"scrape": "success"})})
    report = janitor(report_only="true").execute({"ti": ti})
    assert report["dry_run"] is True
    assert "ended" not in report
    assert "is success and its DAG run is success" in by_id(report, "would_end")[left]
    assert status(hook, left) == "RUNNING"
    hook.end_session(left)


def test_max_age_ends_old_sessions_whatever_their_state(hook: BrowserbaseHook, dag_id: str) -> None:
    live = tagged(hook, dag_id, "live")
    ti = FakeTaskInstance({"live": ("running", {"scrape": "running"})})
    later = datetime.now(UTC) + timedelta(hours=2)
    with mock.patch("airflow_provider_browserbase.operators.janitor.datetime") as clock:
        clock.now.return_value = later
        report = janitor(max_age=timedelta(hours=1)).execute({"ti": ti})
    assert "older than max_age (1:00:00" in by_id(report, "ended")[live]
    assert status(hook, live) == "COMPLETED"


def test_a_state_it_cannot_read_keeps_the_session(hook: BrowserbaseHook, dag_id: str) -> None:
    session_id = tagged(hook, dag_id, "done")
    report = janitor(max_age=None).execute({"ti": FakeTaskInstance({}, broken=True)})
    assert "could not read the state of" in by_id(report, "kept")[session_id]
    assert "ConnectionError: execution API unreachable" in by_id(report, "kept")[session_id]
    assert status(hook, session_id) == "RUNNING"
    hook.end_session(session_id)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_age": timedelta(0)}, "max_age must be positive"),
        ({"report_only": "maybe"}, "report_only must be"),
    ],
)
def test_bad_arguments_are_refused(hook: BrowserbaseHook, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        janitor(**kwargs).execute({"ti": FakeTaskInstance({})})
