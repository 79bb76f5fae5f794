"""
No session outlives a task killed with SIGKILL: under Airflow's own scheduler, DAG processor, triggerer
and API server (LocalExecutor), with ``browserbase-local`` on real Chromium.

What Airflow 3.3.2 does when a task dies without running any Python (see the module docstring of
``airflow_provider_browserbase/callbacks.py``; the code paths are the same in 3.1.8):

- The task process alone killed (the OOM killer, ``kill -9`` of the task instance's pid) with no retry
  left: the supervisor reports FAILED and **no** callback runs anywhere.
- The same with retries left: the supervisor reports nothing, the scheduler sees the executor's result
  disagree with the RUNNING state and has the DAG processor run the retry callbacks within seconds.
- The task process and its supervisor killed (a lost node, an evicted pod, a whole container killed): the
  task instance stops heartbeating; after ``[scheduler] task_instance_heartbeat_timeout`` the scheduler
  fails it and the DAG processor runs its failure (or retry) callbacks.
- The DAG processor runs no callback that a *mapped* task's operator added in its ``__init__``.

The tests (each task holds a ``keep_alive`` session, which a dropped connection does not end):

1. ``system_kill_no_retry``, the task process killed alone: the session guard the task started ends the
   session within **15 s** (0.6 s measured); no callback ran.
2. ``system_kill_no_retry``, the supervisor, the task process and the guard killed: the session is still
   RUNNING five seconds later, and ``end_browserbase_sessions``, run by the DAG processor, ends it within
   **heartbeat timeout + 60 s** (20 s + 60 s here, 23 s measured; 300 s + 60 s by default).
3. ``system_kill_retry`` (mapped, ``retries=1``), the task process and its guard killed: no callback runs
   for the mapped task, and the second try's sweep ends the first try's session before creating its own.
4. ``system_janitor``: a dry run ends nothing; then the janitor ends the sessions tagged with a finished
   task instance and with a DAG run that does not exist, and leaves a running task instance's alone.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import pytest
from airflow_cluster import AirflowCluster, _log_text

from airflow_provider_browserbase.local.server import LocalServer
from airflow_provider_browserbase.operators._session_guard import GUARD_MARKER
from tests.support import TEST_API_KEY, default_connection_to

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(900)]

KILL_DAGS = Path(__file__).resolve().parent / "kill_dags"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "system-killed-tasks"
HEARTBEAT_TIMEOUT = 20
# The scheduler looks for missed heartbeats every few seconds; the DAG processor then parses the DAG file
# in a fresh process and runs the callback (a few seconds on two busy cores). A minute covers both.
CALLBACK_BOUND = HEARTBEAT_TIMEOUT + 60
# The guard's release is one request once the kernel closed the dead process's pipe.
GUARD_BOUND = 15
TASK = "block"


@pytest.fixture(scope="module")
def local_server() -> Iterator[LocalServer]:
    """Real Chromium, sessions end at once when released; ``browserbase_default`` points at it."""
    with (
        LocalServer(host="127.0.0.1", port=0, api_key=TEST_API_KEY, max_sessions=6) as server,
        default_connection_to(server),
    ):
        yield server


@pytest.fixture(scope="module")
def cluster(local_server: LocalServer) -> Iterator[AirflowCluster]:
    home = Path(tempfile.mkdtemp(prefix="bbp-killed-tasks-"))
    # The tests SIGKILL task processes, whose Playwright driver then cannot remove its
    # playwright-artifacts-* folder: the cluster's temp folder is inside home, which goes at the end.
    (home / "tmp").mkdir()
    cluster = AirflowCluster(
        home,
        bundles={"dags-folder": KILL_DAGS},
        extra_env={
            "TMPDIR": str(home / "tmp"),
            "AIRFLOW_CONN_BROWSERBASE_DEFAULT": os.environ["AIRFLOW_CONN_BROWSERBASE_DEFAULT"],
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        },
    )
    try:
        cluster.run_cli("db", "migrate")
        cluster.start_all()
        cluster.wait_healthy()
        yield cluster
    finally:
        outcome = cluster.stop()
        leftovers = cluster.group_members()
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
        shutil.copytree(
            home, ARTIFACTS, ignore=shutil.ignore_patterns("*.db", "*.cfg", "tmp"), dirs_exist_ok=True
        )
        shutil.rmtree(home, ignore_errors=True)
    assert not leftovers, f"processes left alive after stopping Airflow: {leftovers} ({outcome})"


def session_status(server: LocalServer, session_id: str) -> str:
    response = httpx.get(
        f"{server.base_url}/v1/sessions/{session_id}", headers={"X-BB-API-Key": server.api_key}
    )
    return str(response.raise_for_status().json()["status"])


def xcom(
    cluster: AirflowCluster, dag_id: str, run_id: str, task_id: str, key: str, map_index: int = -1
) -> Any:
    response = cluster.client.get(
        f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/xcomEntries/{key}",
        params={"deserialize": "true", "stringify": "false", "map_index": map_index},
    )
    return response.raise_for_status().json()["value"]


def task_log(cluster: AirflowCluster, dag_id: str, run_id: str, try_number: int, map_index: int) -> str:
    response = cluster.client.get(
        f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{TASK}/logs/{try_number}",
        params={"full_content": "true", "map_index": map_index},
        headers={"Accept": "application/json"},
    )
    return _log_text(response.raise_for_status().json().get("content"))


def start_blocking_run(cluster: AirflowCluster, dag_id: str, map_index: int = -1) -> tuple[str, int, str]:
    """Trigger ``dag_id``, wait until its task runs in its session; returns run id, task pid, session id."""
    cluster.wait_for_dag(dag_id)
    cluster.unpause(dag_id)
    run_id = cluster.trigger(dag_id)

    def running() -> tuple[int, str] | None:
        tis = cluster.task_instances(dag_id, run_id)
        ti = next((t for t in tis if t["task_id"] == TASK and t["map_index"] == map_index), None)
        if ti is None:
            return None
        if ti["state"] in ("failed", "success", "up_for_retry"):
            raise AssertionError(f"{TASK} ended {ti['state']} before the test killed it")
        if ti["state"] != "running" or not ti.get("pid"):
            return None
        session_id = xcom(cluster, dag_id, run_id, TASK, "session_id", map_index)
        return (int(ti["pid"]), str(session_id)) if session_id else None

    pid, session_id = cluster.wait_for(f"{dag_id}.{TASK} to run in a session", running, 300, 0.5)
    return run_id, pid, session_id


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


def kill_task_process(pid: int) -> None:
    """SIGKILL the task process and what it started (Playwright's driver), as the OOM killer would."""
    group = os.getpgid(pid)
    if group != os.getpgid(parent_pid(pid)):  # its own group (Airflow 3.3 gives it one)
        os.killpg(group, signal.SIGKILL)
    else:
        os.kill(pid, signal.SIGKILL)


def guard_of(pid: int) -> int:
    """The session guard the task process started (a child of it, in a session of its own)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if parent_pid(int(entry.name)) == pid and GUARD_MARKER in command_line(int(entry.name)):
                    return int(entry.name)
            except (OSError, IndexError):
                continue
    raise AssertionError(f"the task process {pid} started no session guard")


def logs_mentioning(root: Path, text: str) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and path.suffix != ".db":
            try:
                if text in path.read_text(errors="replace"):
                    found.append(path)
            except OSError:
                continue
    return found


def test_guard_ends_the_session_of_a_task_process_killed_alone(
    cluster: AirflowCluster, local_server: LocalServer
) -> None:
    dag_id = "system_kill_no_retry"
    run_id, pid, session_id = start_blocking_run(cluster, dag_id)
    guard = guard_of(pid)
    kill_task_process(pid)  # as the OOM killer does: the supervisor and the guard live on
    killed_at = time.monotonic()

    cluster.wait_for(
        f"session {session_id} to end within {GUARD_BOUND} s of the kill",
        lambda: session_status(local_server, session_id) != "RUNNING",
        GUARD_BOUND,
        interval=0.5,
    )
    assert session_status(local_server, session_id) == "COMPLETED"
    print(f"guard ended the session {time.monotonic() - killed_at:.1f} s after the kill")
    cluster.wait_for(f"the guard {guard} to exit", lambda: not Path(f"/proc/{guard}/cmdline").exists(), 30)
    run = cluster.run_to_end(dag_id, run_id, timeout=120)
    assert run["state"] == "failed"
    # The supervisor reported FAILED itself: no callback ran (Airflow runs none in this case).
    assert not logs_mentioning(cluster.home / "logs" / "dag_processor", session_id)


def test_failure_callback_ends_the_session_of_a_task_killed_with_its_supervisor(
    cluster: AirflowCluster, local_server: LocalServer
) -> None:
    dag_id = "system_kill_no_retry"
    run_id, pid, session_id = start_blocking_run(cluster, dag_id)
    supervisor, guard = parent_pid(pid), guard_of(pid)
    assert command_line(pid).startswith("airflow worker -- ")  # the task process: the TI's pid
    assert "LocalExecutor" in command_line(supervisor)  # the worker supervising it
    assert session_status(local_server, session_id) == "RUNNING"

    # The whole worker goes, as with a lost node or an evicted pod: supervisor, task process, guard.
    os.kill(supervisor, signal.SIGKILL)
    os.kill(guard, signal.SIGKILL)
    kill_task_process(pid)
    killed_at = time.monotonic()

    # keep_alive: the dropped browser connection does not end it; nothing else may, before the timeout.
    time.sleep(5)
    assert session_status(local_server, session_id) == "RUNNING"

    cluster.wait_for(
        f"session {session_id} to end within {CALLBACK_BOUND} s of the kill",
        lambda: session_status(local_server, session_id) != "RUNNING",
        CALLBACK_BOUND - (time.monotonic() - killed_at),
    )
    ended_after = time.monotonic() - killed_at
    assert session_status(local_server, session_id) == "COMPLETED"
    assert ended_after >= HEARTBEAT_TIMEOUT - 1, f"ended after {ended_after:.1f} s: not by the heartbeat path"
    print(f"the failure callback ended the session {ended_after:.1f} s after the kill")

    def task_state() -> str:
        return next(t for t in cluster.task_instances(dag_id, run_id) if t["task_id"] == TASK)["state"]

    # The scheduler's failing of the task and the DAG processor's callback are two processes: either may
    # show first.
    cluster.wait_for("the killed task instance to be failed", lambda: task_state() == "failed", 60)
    # The callback's own log line, written by the DAG processor.
    assert logs_mentioning(
        cluster.home / "logs" / "dag_processor", f"Ended Browserbase session {session_id} (try 1)"
    )


def test_retry_sweep_ends_the_session_of_a_killed_first_try(
    cluster: AirflowCluster, local_server: LocalServer
) -> None:
    dag_id = "system_kill_retry"
    run_id, pid, first_session = start_blocking_run(cluster, dag_id, map_index=0)
    # The task process and its guard (as if the guard could not reach the API): the supervisor lives on.
    os.kill(guard_of(pid), signal.SIGKILL)
    kill_task_process(pid)

    run = cluster.run_to_end(dag_id, run_id, timeout=300)
    assert run["state"] == "success", cluster.describe_run(dag_id, run_id)
    assert xcom(cluster, dag_id, run_id, TASK, "return_value", map_index=0) == 2
    assert session_status(local_server, first_session) == "COMPLETED"
    second_try_log = task_log(cluster, dag_id, run_id, try_number=2, map_index=0)
    assert f"Ended Browserbase session {first_session} (try 1): left by an earlier try" in second_try_log
    assert "map_index=0; try 2 starts" in second_try_log
    # No callback ended it first: none ran for the mapped task (see the DAG file).
    assert not logs_mentioning(
        cluster.home / "logs" / "dag_processor", f"Ended Browserbase session {first_session}"
    )
    second_session = xcom(cluster, dag_id, run_id, TASK, "session_id", map_index=0)
    assert second_session != first_session
    assert session_status(local_server, second_session) == "COMPLETED"  # ended by the task itself


def tagged_session(server: LocalServer, **tags: str) -> str:
    response = httpx.post(
        f"{server.base_url}/v1/sessions",
        headers={"X-BB-API-Key": server.api_key},
        json={"keepAlive": True, "timeout": 1800, "userMetadata": {"airflow": {"try_number": "1", **tags}}},
    )
    return str(response.raise_for_status().json()["id"])


def trigger_with_id(cluster: AirflowCluster, dag_id: str, run_id: str, conf: dict[str, Any]) -> None:
    response = cluster.client.post(
        f"/api/v2/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "logical_date": None, "conf": conf}
    )
    assert response.status_code < 400, response.text


def test_janitor_ends_sessions_of_finished_task_instances_only(
    cluster: AirflowCluster, local_server: LocalServer
) -> None:
    dag_id, task_id = "system_janitor", "janitor"
    cluster.wait_for_dag(dag_id)
    cluster.unpause(dag_id)
    gone = tagged_session(local_server, dag_id="system_kill_retry", task_id=TASK, run_id="manual__gone")

    trigger_with_id(cluster, dag_id, "dry_run", {"report_only": True})
    assert cluster.run_to_end(dag_id, "dry_run", timeout=300)["state"] == "success"
    report = xcom(cluster, dag_id, "dry_run", task_id, "return_value")
    assert report["dry_run"] is True
    assert gone in {entry["session_id"] for entry in report["would_end"]}
    assert session_status(local_server, gone) == "RUNNING"

    finished = tagged_session(local_server, dag_id=dag_id, task_id=task_id, run_id="dry_run")
    running = tagged_session(local_server, dag_id=dag_id, task_id=task_id, run_id="cleanup")
    trigger_with_id(cluster, dag_id, "cleanup", {"report_only": False})
    assert cluster.run_to_end(dag_id, "cleanup", timeout=300)["state"] == "success"

    report = xcom(cluster, dag_id, "cleanup", task_id, "return_value")
    ended = {entry["session_id"]: entry["reason"] for entry in report["ended"]}
    kept = {entry["session_id"]: entry["reason"] for entry in report["kept"]}
    assert {gone, finished} <= set(ended), report
    assert "is success and its DAG run is success" in ended[finished]
    assert "is gone and its DAG run is gone" in ended[gone]
    assert kept[running] == f"task instance {dag_id}.{task_id}, run cleanup, try 1 is running"
    assert session_status(local_server, gone) == session_status(local_server, finished) == "COMPLETED"
    assert session_status(local_server, running) == "RUNNING"
    httpx.post(
        f"{local_server.base_url}/v1/sessions/{running}",
        headers={"X-BB-API-Key": local_server.api_key},
        json={"status": "REQUEST_RELEASE"},
    ).raise_for_status()
