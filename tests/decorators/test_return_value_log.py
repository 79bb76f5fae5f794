"""The return value in the task log, as ``PythonOperator`` writes it, in a real ``dag.test()`` run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from airflow_provider_browserbase.operators.playwright import BrowserbasePlaywrightOperator
from tests.support import task_instance_facts

if TYPE_CHECKING:
    import pytest

    from airflow_provider_browserbase.local.server import LocalServer

DAG_FILE = Path(__file__).resolve().parents[1] / "dags" / "browserbase_return_value.py"


def test_show_return_value_in_logs_defaults_on_like_python_operator() -> None:
    from airflow.providers.standard.operators.python import PythonOperator

    ours = BrowserbasePlaywrightOperator(task_id="t", python_callable=lambda: None)
    theirs = PythonOperator(task_id="t", python_callable=lambda: None)
    assert ours.show_return_value_in_logs is theirs.show_return_value_in_logs is True


def test_the_return_value_is_logged_masked_or_not_at_all(
    airflow_db: Path, local_server: LocalServer, capfd: pytest.CaptureFixture[str]
) -> None:
    from airflow.models import DagBag

    dag = DagBag(dag_folder=str(DAG_FILE)).dags["browserbase_return_value"]
    capfd.readouterr()

    dag_run = dag.test(run_conf={"demo_url": f"{local_server.base_url}/demo"})

    out = capfd.readouterr().out
    states = dict(task_instance_facts(dag_run, lambda ti: (ti.task_id, str(ti.state))))
    assert set(states.values()) == {"success"}, states
    assert "Done. Returned value was: Demo shop" in out
    # show_return_value_in_logs=False: PythonOperator's words, and the value nowhere in the log.
    assert "Done. Returned value not shown" in out
    assert "quiet-" not in out
    # The connect URL is logged too. Masking its signing key is the task supervisor's job in a deployment
    # (tests/system/test_ui_examples.py reads it masked there); dag.test() runs the task in-process, where
    # Airflow 3.3 masks no log line at all, so only the value's presence is checked here.
    assert "Done. Returned value was: ws://" in out
    # PythonOperator's way of calling: op_args bound past the page, templates_dict rendered, a context key
    # by name, the rest of the context and the injected browser, session and context through **kwargs.
    assert (
        "Done. Returned value was: machinery: task=machinery h1=Products run=True "
        "injected=browser,context,session context_is_airflows=True"
    ) in out
