"""
A newcomer's first run in Airflow's web UI, clicked through in headless Chromium as a person would.

Airflow's own scheduler, DAG processor, triggerer and API server run with SimpleAuthManager's generated
admin password (as ``airflow standalone`` sets it up), ``example_dags/`` as the DAGs folder and
``browserbase_default`` pointing at a ``browserbase-local`` on a random port (never 8787). The person logs
in with the password from ``simple_auth_manager_passwords.json.generated``, searches
``example_browserbase`` (the search matches the start of a DAG id), triggers
``example_browserbase_page_title`` without touching its URL param (so the example finds the demo shop
through the connection), sees the run succeed, and reads the page title the task returned in its log.
The unpause also starts the latest scheduled interval's run, which must succeed as well.

Alongside, ``tests/dags/browserbase_return_value.py`` runs under the real task supervisor, which masks
log lines: the connect URL its task returns is logged with the signing key as ``***``.

Screenshots go to ``test-artifacts/system/ui-examples/``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from airflow_cluster import deployed

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_cluster import AirflowCluster
    from playwright.sync_api import Browser, Page

    from airflow_provider_browserbase.local.server import LocalServer

pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "example_browserbase_page_title"
TASK_ID = "page_title"
RETURN_DAG = "browserbase_return_value"
# A person waits this long for a page or a run on a loaded two-core machine before calling it broken.
UI_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def ui_artifacts(artifacts: Path) -> Path:
    folder = artifacts / "ui-examples"
    shutil.rmtree(folder, ignore_errors=True)  # no screenshot of an earlier run passes for this one's
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="module")
def ui_cluster(local_server: LocalServer, ui_artifacts: Path) -> Iterator[AirflowCluster]:
    """Airflow with a login: SimpleAuthManager's ``admin`` and its generated password, not all-admins."""
    assert not local_server.base_url.endswith(":8787")
    with deployed(
        "bbp-system-ui-",
        bundles={"dags-folder": REPO / "example_dags", "test-dags": REPO / "tests" / "dags"},
        extra_env={
            "AIRFLOW_CONN_BROWSERBASE_DEFAULT": os.environ["AIRFLOW_CONN_BROWSERBASE_DEFAULT"],
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            # The first Execution API call of a task can exceed the 5 s default on a loaded machine.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
        },
        artifacts=ui_artifacts,
    ) as cluster:
        yield cluster


def test_a_newcomer_runs_the_page_title_example_in_the_ui(
    ui_cluster: AirflowCluster,
    local_server: LocalServer,
    ui_browser: Browser,
    ui_artifacts: Path,
) -> None:
    cluster = ui_cluster
    password = cluster.login()
    with cluster.timed("DAGs parsed"):
        cluster.wait_for_dag(DAG_ID)
        cluster.wait_for_dag(RETURN_DAG)
    cluster.unpause(RETURN_DAG)
    return_run = cluster.trigger(RETURN_DAG, conf={"demo_url": f"{local_server.base_url}/demo"})

    page = ui_browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    try:
        with cluster.timed("UI: log in, find the DAG, trigger it"):
            _log_in(page, cluster, password, ui_artifacts)
            _find_the_dag(page, ui_artifacts)
            _trigger_with_default_params(page, ui_artifacts)
        with cluster.timed("UI: the runs succeed"):
            runs = _wait_for_runs(cluster)
            _see_success_in_the_grid(page, cluster, runs, ui_artifacts)
        with cluster.timed("UI: the task log shows the title"):
            _read_the_returned_title(page, cluster, runs, ui_artifacts)
    except BaseException:
        page.screenshot(path=ui_artifacts / "failure.png", full_page=True)
        raise
    finally:
        page.context.close()

    with cluster.timed(f"{RETURN_DAG}: run to the end"):
        _assert_the_connect_url_is_logged_masked(cluster, local_server, return_run)


def _log_in(page: Page, cluster: AirflowCluster, password: str, artifacts: Path) -> None:
    page.goto(cluster.base_url)
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(password)
    page.screenshot(path=artifacts / "01-login.png")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/" not in url)


def _find_the_dag(page: Page, artifacts: Path) -> None:
    page.get_by_role("link", name="Dags", exact=True).first.click()
    search = page.get_by_placeholder("Search Dags")
    search.fill("example_browserbase")
    # Every example, and only them: the search matches the start of the id.
    examples = len(list((REPO / "example_dags").glob("example_browserbase_*.py")))
    page.get_by_text(f"{examples} Dags", exact=True).wait_for()
    link = page.get_by_role("link", name=DAG_ID, exact=True)
    link.wait_for()
    page.screenshot(path=artifacts / "02-search.png")


def _trigger_with_default_params(page: Page, artifacts: Path) -> None:
    """Trigger from the DAG's card in the search results (its play button)."""
    trigger = page.get_by_role("button", name="Trigger Dag", exact=True)
    card = (
        page.locator("div")
        .filter(has=page.get_by_role("link", name=DAG_ID, exact=True))
        .filter(has=trigger)
        .last
    )
    card.get_by_role("button", name="Trigger Dag", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    # New DAGs are paused: the form's "Unpause ... on trigger" box must be ticked for the run to start.
    unpause = dialog.get_by_role("checkbox", name=re.compile(rf"Unpause {DAG_ID} on trigger"))
    unpause.check()
    # The URL param is left as it comes: empty, so the example uses the demo shop of the connection.
    page.screenshot(path=artifacts / "03-trigger-form.png")
    dialog.get_by_role("button", name="Trigger", exact=True).click()
    dialog.wait_for(state="hidden")


def _wait_for_runs(cluster: AirflowCluster) -> list[dict[str, Any]]:
    """Both runs: the manual one and the latest scheduled interval's, which the unpause started."""

    def ended() -> list[dict[str, Any]] | None:
        body = cluster.client.get(f"/api/v2/dags/{DAG_ID}/dagRuns").raise_for_status().json()
        runs = list(body["dag_runs"])
        kinds = {run["run_type"] for run in runs}
        if {"manual", "scheduled"} <= kinds and all(r["state"] in ("success", "failed") for r in runs):
            return runs
        return None

    runs: list[dict[str, Any]] = cluster.wait_for(f"the runs of {DAG_ID} to end", ended, 300, 2.0)
    for run in runs:
        if run["state"] != "success":
            pytest.fail(
                f"{run['dag_run_id']} ended {run['state']}\n{cluster.describe_run(DAG_ID, run['dag_run_id'])}"
            )
    return runs


def _run_path(run: dict[str, Any]) -> str:
    return f"/dags/{DAG_ID}/runs/{quote(run['dag_run_id'], safe='')}"


def _manual(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(run for run in runs if run["run_type"] == "manual")


def _see_success_in_the_grid(
    page: Page, cluster: AirflowCluster, runs: list[dict[str, Any]], artifacts: Path
) -> None:
    page.goto(f"{cluster.base_url}{_run_path(_manual(runs))}")
    page.get_by_text("Success", exact=True).first.wait_for()
    page.screenshot(path=artifacts / "04-run-succeeded.png", full_page=True)


def _read_the_returned_title(
    page: Page, cluster: AirflowCluster, runs: list[dict[str, Any]], artifacts: Path
) -> None:
    for run in runs:
        page.goto(f"{cluster.base_url}{_run_path(run)}/tasks/{TASK_ID}")
        page.get_by_text("Done. Returned value was: Demo shop").first.wait_for()
        page.screenshot(path=artifacts / f"05-task-log-{run['run_type']}.png", full_page=True)


def _assert_the_connect_url_is_logged_masked(
    cluster: AirflowCluster, local_server: LocalServer, run_id: str
) -> None:
    run = cluster.run_to_end(RETURN_DAG, run_id, timeout=300)
    if run["state"] != "success":
        pytest.fail(f"{RETURN_DAG} ended {run['state']}\n{cluster.describe_run(RETURN_DAG, run_id)}")
    log = cluster.task_log(RETURN_DAG, run_id, "connect_url")
    assert "Done. Returned value was: ws://" in log, log[-3000:]
    assert "?signingKey=***" in log, log[-3000:]
    keys = [s.signing_key for s in local_server.app.state.registry.sessions.values()]  # type: ignore[union-attr]
    assert keys
    assert not [key for key in keys if key in log]
    assert "Done. Returned value not shown" in cluster.task_log(RETURN_DAG, run_id, "quiet")
