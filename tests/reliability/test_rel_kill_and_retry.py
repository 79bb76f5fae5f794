"""
A real task process killed with SIGTERM mid-task, and a task retried after a failure: Airflow's own
task runner (``dag.test()``) drives the operator, and the session of every try ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from reliability_helpers import CONN_ENV, FAULT_TALLY, Admin, conn_json

from tests.support import task_instance_facts

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.server import LocalServer

HERE = Path(__file__).resolve().parent


def dag_from_bundle(dag_id: str) -> Any:
    from airflow.models import DagBag

    bag = DagBag(dag_folder=str(HERE / "dags" / f"{dag_id}_dag.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


@pytest.mark.usefixtures("airflow_db", "reliability_bundle")
def test_sigterm_to_the_task_process_ends_its_session(
    chromium_server: LocalServer, chromium_admin: Admin, tmp_path: Path
) -> None:
    marker = tmp_path / "session-id"
    env = {**os.environ, CONN_ENV: conn_json(chromium_server.base_url)}
    process = subprocess.Popen(
        [sys.executable, str(HERE / "run_sigterm_dag.py"), str(marker)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), (
            f"the task never opened its session:\n{process.communicate(timeout=30)[0][-4000:]}"
        )
        session_id = marker.read_text()
        assert chromium_admin.status(session_id) == "RUNNING"

        process.send_signal(signal.SIGTERM)
        FAULT_TALLY["injected"] += 1
        output, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # keepAlive: the session ended because the task asked for it, not because a socket closed.
    chromium_admin.wait_status(session_id, "COMPLETED")
    assert f"The task was killed; Browserbase session {session_id} was ended" in output, output[-4000:]
    assert "DAG RUN STATE failed" in output, output[-4000:]


@pytest.mark.usefixtures("airflow_db", "reliability_bundle")
def test_a_retried_task_gets_a_fresh_session_and_the_old_one_ends(
    chromium_conn: str, chromium_admin: Admin
) -> None:
    dag = dag_from_bundle("rel_retry")
    dag_run = dag.test()

    (ti_state,) = task_instance_facts(dag_run, lambda ti: (str(ti.state), ti.try_number))
    assert ti_state == ("success", 2)
    sessions = [
        s
        for s in chromium_admin.sessions()
        if (s.get("userMetadata") or {}).get("airflow", {}).get("run_id") == dag_run.run_id
    ]
    by_try = {s["userMetadata"]["airflow"]["try_number"]: s for s in sessions}
    assert sorted(by_try) == ["1", "2"], sessions
    assert by_try["1"]["id"] != by_try["2"]["id"]
    for session in sessions:
        chromium_admin.wait_status(session["id"], "COMPLETED")
