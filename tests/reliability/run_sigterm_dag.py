"""Run ``rel_sigterm`` with ``dag.test()`` in this process; the test sends it SIGTERM mid-task."""

from __future__ import annotations

import sys
from pathlib import Path

from airflow.models import DagBag

if __name__ == "__main__":
    bag = DagBag(dag_folder=str(Path(__file__).resolve().parent / "dags" / "rel_sigterm_dag.py"))
    dag = bag.dags["rel_sigterm"]
    run = dag.test(run_conf={"marker": sys.argv[1]})
    print(f"DAG RUN STATE {run.state}", flush=True)
