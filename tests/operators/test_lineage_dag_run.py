"""
A ``dag.test()`` run with OpenLineage's file transport: the events name the sites read and the files written.

The run happens in a fresh interpreter: the OpenLineage provider reads its transport and registers its
listener once per process, when Airflow loads plugins, so the configuration must be in the environment
before Airflow starts. The same run shows that templated connection ids reach every task: the DAG takes
its connection from ``{{ params.conn }}`` and the run has no ``browserbase_default`` connection at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from support import connection_uri_env

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.server import LocalServer

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "tests" / "dags" / "browserbase_lineage_flow.py"
DAG_ID = "browserbase_lineage_flow"

RUN = """
import json, sys
from airflow.models import DagBag
dagbag = DagBag(dag_folder=sys.argv[1])
dag = dagbag.dags[sys.argv[2]]
run = dag.test(run_conf=json.loads(sys.argv[3]))
from tests.support import task_instance_facts
states = dict(task_instance_facts(run, lambda ti: (ti.task_id, str(ti.state))))
with open(sys.argv[4], "w") as result:
    json.dump({"state": str(run.state), "tasks": states}, result)
"""


@pytest.fixture(scope="module")
def lineage_run(
    airflow_db: Path, local_server: LocalServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Run the DAG once; the run's outcome, its OpenLineage events and where it wrote."""
    folder = tmp_path_factory.mktemp("bbp-lineage")
    events_file = folder / "events.jsonl"
    destination = folder / "reports"
    pages = folder / "pages"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "bbp-tests",
        "AIRFLOW_CONN_BROWSERBASE_LINEAGE": connection_uri_env(local_server.base_url, local_server.api_key),
    }
    env.pop("AIRFLOW_CONN_BROWSERBASE_DEFAULT", None)
    conf = {
        "conn": "browserbase_lineage",
        "demo_url": f"{local_server.base_url}/demo",
        "destination": str(destination),
        "pages": f"{pages}/",
    }
    result = subprocess.run(
        [sys.executable, "-c", RUN, str(DAG_FILE), DAG_ID, json.dumps(conf), str(folder / "result.json")],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    # In a file of its own: a log line written to stdout meanwhile once landed inside the printed result.
    outcome = json.loads((folder / "result.json").read_text())
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    return {
        "outcome": outcome,
        "events": events,
        "destination": destination,
        "pages": pages,
        "server": local_server,
    }


def completed(events: list[dict[str, Any]], task_id: str, event_type: str = "COMPLETE") -> dict[str, Any]:
    matching = [
        e for e in events if e.get("eventType") == event_type and e["job"]["name"] == f"{DAG_ID}.{task_id}"
    ]
    assert len(matching) == 1, [(e.get("eventType"), e.get("job", {}).get("name")) for e in events]
    return matching[0]


def datasets(event: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in event[kind]]


def test_every_task_used_the_templated_connection(lineage_run: dict[str, Any]) -> None:
    tasks = dict(lineage_run["outcome"]["tasks"])
    # These fail on purpose after reading a page (through the same connection): a browser task, and a
    # fetch of a page that answers 404.
    assert (tasks.pop("read_then_fail"), tasks.pop("fetch_missing")) == ("failed", "failed"), tasks
    assert tasks == dict.fromkeys(
        (
            "fetch_report",
            "save_report",
            "browse",
            "create_session",
            "end_session",
            "session_ended",
            "fetch_page",
        ),
        "success",
    )


def test_browser_tasks_report_the_sites_they_read(lineage_run: dict[str, Any]) -> None:
    base = urlsplit(lineage_run["server"].base_url)
    site = f"http://{base.hostname}:{base.port}"
    events = lineage_run["events"]

    assert datasets(completed(events, "fetch_report"), "inputs") == [
        (site, "/demo/products"),
        (site, "/demo/download"),
    ]
    # @task.browserbase: the query is dropped, a page read twice is one dataset.
    assert datasets(completed(events, "browse"), "inputs") == [
        (site, "/demo/products"),
        (site, "/demo/download"),
    ]
    assert datasets(completed(events, "fetch_report"), "outputs") == []
    # On failure too: what the task read before it failed.
    assert datasets(completed(events, "read_then_fail", "FAIL"), "inputs") == [(site, "/demo/products")]


def test_the_downloads_operator_reports_the_files_it_wrote(lineage_run: dict[str, Any]) -> None:
    (written,) = list(lineage_run["destination"].iterdir())
    event = completed(lineage_run["events"], "save_report")
    assert datasets(event, "outputs") == [("file", str(written).lstrip("/"))]
    assert datasets(event, "inputs") == []


def test_the_fetch_operator_reports_the_page_it_read_and_the_file_it_wrote(
    lineage_run: dict[str, Any],
) -> None:
    base = urlsplit(lineage_run["server"].base_url)
    site = f"http://{base.hostname}:{base.port}"
    (written,) = list(lineage_run["pages"].iterdir())
    assert "# Products, page 2 of" in written.read_text()

    event = completed(lineage_run["events"], "fetch_page")
    # The query (here ?page=2) is left out of the name, as for the pages a browser reads.
    assert datasets(event, "inputs") == [(site, "/demo/products")]
    assert datasets(event, "outputs") == [("file", str(written).lstrip("/"))]
    # Failed with HTTP 404: the page was read, nothing was written.
    failed = completed(lineage_run["events"], "fetch_missing", "FAIL")
    assert datasets(failed, "inputs") == [(site, "/demo/products")]
    assert datasets(failed, "outputs") == []
