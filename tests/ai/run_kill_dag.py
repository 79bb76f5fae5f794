"""Run ``ai_agent_kill`` with ``dag.test()`` in this process; the test sends it SIGTERM mid-run."""

from __future__ import annotations

import sys
from pathlib import Path

from airflow.models import DagBag

if __name__ == "__main__":
    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[1] / "dags" / "ai_agent_kill.py"))
    run = bag.dags["ai_agent_kill"].test(run_conf={"shop_url": sys.argv[1]})
    print(f"DAG RUN STATE {run.state}", flush=True)
