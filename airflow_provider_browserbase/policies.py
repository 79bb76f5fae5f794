"""
Airflow cluster policies the provider registers (entry point ``airflow.policy``).

Airflow loads them in every process that parses DAGs (the DAG processor, ``dag.test()``, ``airflow dags
test`` and each task's worker), next to the deployment's own ``airflow_local_settings`` policies, which
still have the final say.

- :func:`task_policy`: an agent task (common-ai's ``@task.agent`` / ``AgentOperator``) given a
  ``BrowserbaseToolset`` gets the "Browserbase Session" button. common-ai's operator declares only its own
  links, and a toolset is built before the operator it is given to, so the toolset cannot add the link
  itself; the serialized DAG, which the UI reads, takes its links from the task as parsed, so the link must
  be there by then. This is the one hook Airflow calls on every parsed task.

Kept import-light: the policy costs one dictionary lookup for a task of a DAG file that never imported the
toolset (then it cannot use it), and nothing here imports common-ai or Playwright.
"""

from __future__ import annotations

import sys
from typing import Any

from airflow.policies import hookimpl

_TOOLSET_MODULE = "airflow_provider_browserbase.ai.toolset"


@hookimpl
def task_policy(task: Any) -> None:
    """Give an agent task that browses with ``BrowserbaseToolset`` the "Browserbase Session" button."""
    toolset_module = sys.modules.get(_TOOLSET_MODULE)
    if toolset_module is None:
        return
    toolset_module.add_session_link(task)
