"""A whole DAG run with ``dag.test()`` on ``browserbase-local``: XComs, the link, deferral and resume."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_browserbase.hooks._connection import session_url_for
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.links.session import SESSION_URL_XCOM_KEY, BrowserbaseSessionLink
from tests.support import task_instance_facts

if TYPE_CHECKING:
    import pytest

    from airflow_provider_browserbase.local.server import LocalServer

DAG_FILE = Path(__file__).resolve().parents[1] / "dags" / "browserbase_operators_flow.py"


def task_instances(dag_run: Any) -> dict[str, Any]:
    return dict(
        task_instance_facts(dag_run, lambda ti: (ti.task_id, (str(ti.state), ti.next_method, ti.try_number)))
    )


def xcom(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key=key)
        ).all()
        assert len(rows) == 1, f"{task_id} pushed {len(rows)} values under {key!r}"
        return XComModel.deserialize_value(rows[0])


def test_create_read_end_then_deferrable_sensors(
    airflow_db: Path, local_server: LocalServer, capfd: pytest.CaptureFixture[str]
) -> None:
    from airflow.models import DagBag

    dagbag = DagBag(dag_folder=str(DAG_FILE))
    dag = dagbag.dags.get("browserbase_operators_flow")
    assert dag is not None, dagbag.import_errors

    dag_run = dag.test(run_conf={"demo_url": f"{local_server.base_url}/demo"})

    states = {task_id: state for task_id, (state, _, _) in task_instances(dag_run).items()}
    assert str(dag_run.state) == "success", states
    assert set(states.values()) == {"success"}, states

    created = xcom(dag_run, "create_session")
    session_id = xcom(dag_run, "create_session", "session_id")
    assert created["id"] == session_id
    assert created["connect_url"] == xcom(dag_run, "create_session", "connect_url")
    assert "signing_key" not in created
    assert xcom(dag_run, "read_page")
    assert xcom(dag_run, "heading") == xcom(dag_run, "read_page")

    with BrowserbaseHook() as hook:
        # Stored while the session ran: the live view with its token (the session has ended since).
        link = xcom(dag_run, "create_session", SESSION_URL_XCOM_KEY)
        assert link.startswith(session_url_for(hook.base_url, session_id) + "?token=")
        # The UI's button reads the XCom its link names: the URL stored on create, also while the task ran.
        assert BrowserbaseSessionLink().xcom_key == SESSION_URL_XCOM_KEY
        session = hook.get_session(session_id)
        assert session.status == "COMPLETED"
        assert (session.user_metadata or {})["airflow"]["dag_id"] == "browserbase_operators_flow"
        assert (session.user_metadata or {})["airflow"]["run_id"] == dag_run.run_id
        kept = xcom(dag_run, "create_kept_session")
        assert "connect_url" not in kept
        # wait_released deferred: its trigger polled the RUNNING session before the resumed task saw it end.
        assert f"Browserbase session {kept['id']} is RUNNING" in capfd.readouterr().out
        assert hook.get_session(kept["id"]).status == "COMPLETED"
        assert hook.list_sessions(status="RUNNING", metadata={"airflow": {"run_id": dag_run.run_id}}) == []
