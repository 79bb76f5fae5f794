"""
A newcomer's first run in Airflow's web UI, clicked through in headless Chromium as a person would.

Airflow's own scheduler, DAG processor, triggerer and API server run with SimpleAuthManager's generated
admin password (as ``airflow standalone`` sets it up), ``example_dags/`` as the DAGs folder and
``browserbase_default`` pointing at a ``browserbase-local`` on a random port (never 8787). The person logs
in with the password from ``simple_auth_manager_passwords.json.generated``, searches
``example_browserbase`` (the search matches the start of a DAG id), opens
``example_browserbase_page_title``, presses Trigger, changes its ``url`` param in the trigger form to the
shop's second listing page, submits, sees the run succeed in the grid, opens the task's "Browserbase
Session" button (the page of the session the task used, on the server) and reads in the task log the title
of the page the param named. The unpause also starts the latest scheduled interval's run, which keeps the
default param and returns the shop's home page title.

Screenshots go to ``test-artifacts/system/ui-examples/``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
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
# The param the person changes in the trigger form, and what the run then returns: the title of that page.
CHANGED_PATH = "/products?page=2"
CHANGED_TITLE = "Products, page 2 of 3"
DEFAULT_TITLE = "Demo shop"
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
        changed_url = f"{local_server.base_url}/demo{CHANGED_PATH}"
        with cluster.timed("UI: log in, find the DAG, trigger it with a changed param"):
            _log_in(page, cluster, password, ui_artifacts)
            _find_the_dag(page, ui_artifacts)
            _open_the_dag(page, ui_artifacts)
            _trigger_with_a_changed_param(page, changed_url, ui_artifacts)
        with cluster.timed("UI: the runs succeed"):
            runs = _wait_for_runs(cluster)
            assert _manual(runs)["conf"] == {"url": changed_url}
            _see_success_in_the_grid(page, cluster, runs, ui_artifacts)
        with cluster.timed("UI: the task's Browserbase Session link"):
            _open_the_session_link(page, cluster, local_server, _manual(runs), changed_url, ui_artifacts)
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


def _open_the_dag(page: Page, artifacts: Path) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name=DAG_ID, exact=True).click()
    page.wait_for_url(lambda url: url.rstrip("/").endswith(f"/dags/{DAG_ID}"))
    # The DAG page has one Trigger button (in its header); the search results had one per DAG card.
    expect(page.get_by_test_id("trigger-dag-button")).to_have_count(1, timeout=UI_TIMEOUT_MS)
    page.screenshot(path=artifacts / "03-dag-page.png")


def _trigger_with_a_changed_param(page: Page, changed_url: str, artifacts: Path) -> None:
    """Press the DAG page's Trigger, tick the unpause box, put another page in the ``url`` param, submit."""
    page.get_by_test_id("trigger-dag-button").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    # New DAGs are paused: the form's "Unpause ... on trigger" box must be ticked for the run to start.
    unpause = dialog.get_by_role("checkbox", name=re.compile(rf"Unpause {DAG_ID} on trigger"))
    unpause.check()
    # The params form (Airflow's FlexibleForm) names each field's input element_<param>.
    url = dialog.locator("#element_url")
    url.fill(changed_url)
    page.screenshot(path=artifacts / "04-trigger-form-changed-param.png")
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
    page.screenshot(path=artifacts / "05-run-succeeded.png", full_page=True)


def _open_the_session_link(
    page: Page,
    cluster: AirflowCluster,
    local_server: LocalServer,
    run: dict[str, Any],
    changed_url: str,
    artifacts: Path,
) -> None:
    """The task's "Browserbase Session" button opens the page of the session this run's task used."""
    page.goto(f"{cluster.base_url}{_run_path(run)}/tasks/{TASK_ID}")
    page.get_by_role("link", name="Details", exact=True).click()
    link = page.get_by_role("link", name="Browserbase Session", exact=True)
    link.wait_for()
    href = link.get_attribute("href") or ""
    found = re.fullmatch(rf"{re.escape(local_server.base_url)}/sessions/([\w-]+)/live\?token=\S+", href)
    assert found, href
    session_id = found.group(1)
    # That session is the one this run's task created (the provider tags every session with its task).
    session = (
        httpx.get(
            f"{local_server.base_url}/v1/sessions/{session_id}",
            headers={"X-BB-API-Key": local_server.api_key},
        )
        .raise_for_status()
        .json()
    )
    tags = session["userMetadata"]["airflow"]
    assert (tags["dag_id"], tags["task_id"], tags["run_id"]) == (DAG_ID, TASK_ID, run["dag_run_id"])
    page.screenshot(path=artifacts / "06-task-browserbase-session-link.png")
    # Airflow opens a link to another origin in a new tab: the session's live view while it runs, its
    # status page once it ended (the task ended it; the server completes it after its release delay).
    with page.expect_popup() as popup:
        link.click()
    opened = popup.value
    opened.wait_for_load_state()
    title = rf"Session {session_id} \((live|ended)\) · browserbase-local"
    shown = re.fullmatch(title, opened.title())
    assert shown, opened.title()
    if shown.group(1) == "live":
        # Still within the server's release delay: the viewer shows the session's page, the one the
        # changed param named, and draws its first screencast frame.
        from playwright.sync_api import expect

        expect(opened.get_by_label("Address")).to_have_value(changed_url, timeout=30_000)
        expect(opened.locator("#screen")).to_have_attribute(
            "src", re.compile(r"^data:image/jpeg;base64,"), timeout=30_000
        )
    else:
        opened.get_by_text(f"Session {session_id} has ended with status COMPLETED").wait_for()
    opened.screenshot(path=artifacts / "07-session-page.png")
    opened.close()


def _read_the_returned_title(
    page: Page, cluster: AirflowCluster, runs: list[dict[str, Any]], artifacts: Path
) -> None:
    """The manual run opened the page its changed param named; the scheduled run the default page."""
    for run in runs:
        title = CHANGED_TITLE if run["run_type"] == "manual" else DEFAULT_TITLE
        page.goto(f"{cluster.base_url}{_run_path(run)}/tasks/{TASK_ID}")
        page.get_by_text(f"Done. Returned value was: {title}").first.wait_for()
        page.screenshot(path=artifacts / f"08-task-log-{run['run_type']}.png", full_page=True)
        returned = cluster.client.get(
            f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run['dag_run_id'], safe='')}/taskInstances/{TASK_ID}"
            "/xcomEntries/return_value",
            params={"deserialize": "true", "stringify": "false"},
        )
        assert returned.raise_for_status().json()["value"] == title


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
