"""Run the example DAGs with ``dag.test()`` and read what they did from the metadata database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support import task_instance_facts

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"


def run_example(dagbag: Any, dag_id: str, **params: Any) -> DagRun:
    """Run an example DAG to the end with ``dag.test()``, with ``params`` as the run's conf."""
    dag = dagbag.dags.get(dag_id)
    assert dag is not None, f"{dag_id} is not in {EXAMPLE_DAGS}: {dagbag.import_errors}"
    return dag.test(run_conf=params)


def task_states(dag_run: DagRun) -> dict[str, str]:
    """``task_id`` (with ``[map_index]`` for mapped tasks) to state, read fresh from the database."""
    return dict(
        task_instance_facts(
            dag_run,
            lambda ti: (ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]", str(ti.state)),
        )
    )


def xcom_values(dag_run: DagRun, task_id: str, key: str = "return_value") -> list[Any]:
    """Every XCom value ``task_id`` pushed under ``key`` in the run, in map-index order."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = (
            XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key=key)
            .order_by(None)
            .order_by(XComModel.map_index)
        )
        return [XComModel.deserialize_value(row) for row in session.scalars(query)]


def xcom_value(dag_run: DagRun, task_id: str, key: str = "return_value") -> Any:
    values = xcom_values(dag_run, task_id, key)
    assert len(values) == 1, f"{task_id} pushed {len(values)} values under {key!r}"
    return values[0]


def assert_no_running_session(base_url: str) -> None:
    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

    hook = BrowserbaseHook()
    assert hook.base_url == base_url
    running = [s.id for s in hook.list_sessions(status="RUNNING")]
    assert running == [], f"sessions still running after the DAG: {running}"


def asset_events(dag_run: DagRun) -> dict[str, Any]:
    """Asset name to the ``extra`` of the event the run emitted for it."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.name, AssetEvent.extra)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .where(AssetEvent.source_dag_id == dag_run.dag_id, AssetEvent.source_run_id == dag_run.run_id)
        ).all()
    return {name: extra for name, extra in rows}


def xcom_keys(dag_run: DagRun, task_id: str) -> set[str]:
    """Every XCom key ``task_id`` stored in the run (its own pushes and Airflow's, such as the links)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(XComModel.key).where(
                XComModel.dag_id == dag_run.dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.task_id == task_id,
            )
        ).all()
    return set(rows)


def documented_xcom_keys(task: str) -> set[str]:
    """The XCom keys that the "XCom and secrets" table of ``docs/security.md`` lists for ``task``."""
    import re

    page = (EXAMPLE_DAGS.parent / "docs" / "security.md").read_text()
    section = page.split("\n## XCom and secrets\n", 1)[1]
    table = section[section.index("\n| task |") :].split("\n\n", 1)[0].strip()
    keys: set[str] = set()
    current = ""
    for row in table.splitlines()[2:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        current = cells[0] or current
        if f"`{task}`" in current:
            keys |= set(re.findall(r"`([^`]+)`", cells[1]))
    assert keys, f"the XCom table of docs/security.md has no row for {task}"
    return keys
