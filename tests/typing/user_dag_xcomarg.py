"""
A user's DAG as mypy sees it: session ids passed as ``XComArg`` from the task that created the session.

Never run (the file is checked by ``tests/test_user_dag_types.py`` with mypy, strictly): a type error here
is a type error in every DAG that wires operators together the same way.
"""

from __future__ import annotations

from airflow.sdk import DAG, XComArg

from airflow_provider_browserbase.operators.context import (
    BrowserbaseCreateContextOperator,
    BrowserbaseDeleteContextOperator,
)
from airflow_provider_browserbase.operators.downloads import BrowserbaseDownloadsOperator
from airflow_provider_browserbase.operators.playwright import BrowserbasePlaywrightOperator
from airflow_provider_browserbase.operators.session import (
    BrowserbaseCreateSessionOperator,
    BrowserbaseEndSessionOperator,
)
from airflow_provider_browserbase.sensors.session import BrowserbaseSessionSensor


def title(page: object = None) -> str:
    return str(getattr(page, "title", lambda: "")())


with DAG("typed_user_dag", schedule=None):
    create = BrowserbaseCreateSessionOperator(task_id="create", keep_alive=True)
    # Annotated as Airflow's XComArg, so the operators' hints are checked against XComArg itself.
    session_id: XComArg = create.output["session_id"]
    use = BrowserbasePlaywrightOperator(task_id="use", python_callable=title, session_id=session_id)
    downloads = BrowserbaseDownloadsOperator(
        task_id="downloads", session_id=create.output["session_id"], destination="/tmp/downloads"
    )
    end = BrowserbaseEndSessionOperator(task_id="end", session_id=session_id)
    wait = BrowserbaseSessionSensor(task_id="wait", session_id=session_id)
    new_context = BrowserbaseCreateContextOperator(task_id="new_context")
    drop_context = BrowserbaseDeleteContextOperator(task_id="drop_context", context_id=new_context.output)
    use >> downloads >> end >> wait >> drop_context
