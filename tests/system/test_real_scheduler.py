"""
Runs under Airflow's own scheduler, DAG processor, triggerer and API server (LocalExecutor, SQLite).

- A deferrable ``BrowserbaseSessionSensor`` is seen DEFERRED with our trigger class assigned to the
  triggerer's job, the triggerer's own records ("trigger ... starting", "Trigger fired event") land in the
  sensor's log, and the sensor resumes on a worker with the event: the trigger was serialized, rebuilt and
  run in another process.
- The scrape example, triggered through the REST API, runs to success and returns the demo shop's records;
  its own ``confirm_session_completed`` sensor defers to the triggerer, since the server (see
  ``conftest.py``) ends a released session only after a delay, as Browserbase releases asynchronously.
- In the web UI (headless Chromium), the ``browserbase`` connection form shows its fields (and the saved
  connection tests green from the API server's process); while a sensor waits in the triggerer, its
  details show our trigger, and the create-session task's "Browserbase Session" link opens the server's
  live page of that session. Screenshots go to ``test-artifacts/system/``.

- The agent example (``@task.agent`` with ``BrowserbaseToolset``, Airflow's AI provider) runs to success
  with a real ``pydanticai`` connection whose model is the scripted OpenAI-compatible server of
  ``tests/ai/scripted_openai.py``: the answer came from the shop's pages through the browser, the session
  ended, and the task's "Browserbase Session" link, which the provider's cluster policy gave it, opens the
  page of that session.

The system DAG (``dags/system_deferred_sensor.py``) keeps the session running until the test ends it from
outside, so the test can look at the deferred sensor (in the API and the UI) for as long as it needs.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import pytest

if TYPE_CHECKING:
    from airflow_cluster import AirflowCluster
    from playwright.sync_api import Browser, Page

    from airflow_provider_browserbase.local.server import LocalServer

pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(900)]

TRIGGER_CLASSPATH = "airflow_provider_browserbase.triggers.session.BrowserbaseSessionTrigger"
SYSTEM_DAG = "system_deferred_sensor"
SCRAPE_DAG = "example_browserbase_scrape"
SENSOR = "wait_until_completed"
SCRAPE_SENSOR = "confirm_session_completed"
CREATE = "create_session"
AGENT_DAG = "example_browserbase_agent"
AGENT_TASK = "cheapest_desk_lamp"


def _xcom(cluster: AirflowCluster, dag_id: str, run_id: str, task_id: str, key: str) -> Any:
    response = cluster.client.get(
        f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/xcomEntries/{key}",
        params={"deserialize": "true", "stringify": "false"},
    )
    return response.raise_for_status().json()["value"]


def _session_status(server: LocalServer, session_id: str) -> str:
    response = httpx.get(
        f"{server.base_url}/v1/sessions/{session_id}", headers={"X-BB-API-Key": server.api_key}
    )
    return str(response.raise_for_status().json()["status"])


def _start_deferred_run(cluster: AirflowCluster) -> tuple[str, dict[str, Any], str]:
    """Trigger the system DAG and wait until its sensor is DEFERRED; returns run id, sensor TI, session id."""
    cluster.wait_for_dag(SYSTEM_DAG)
    cluster.unpause(SYSTEM_DAG)
    run_id = cluster.trigger(SYSTEM_DAG)

    def sensor_deferred() -> dict[str, Any] | None:
        for ti in cluster.task_instances(SYSTEM_DAG, run_id):
            if ti["task_id"] == SENSOR:
                if ti["state"] in ("failed", "upstream_failed", "success"):
                    raise AssertionError(
                        f"{SENSOR} ended {ti['state']} without being seen DEFERRED\n"
                        f"{cluster.describe_run(SYSTEM_DAG, run_id)}"
                    )
                if ti["state"] == "deferred" and ti.get("triggerer_job"):
                    return ti
        return None

    deferred = cluster.wait_for(f"{SENSOR} to be deferred to the triggerer", sensor_deferred, 300, 0.5)
    return run_id, deferred, _xcom(cluster, SYSTEM_DAG, run_id, CREATE, "session_id")


def _release_and_finish(cluster: AirflowCluster, server: LocalServer, run_id: str, session_id: str) -> None:
    """End the session from outside, as a person or another system would, and wait for the run's success."""
    httpx.post(
        f"{server.base_url}/v1/sessions/{session_id}",
        headers={"X-BB-API-Key": server.api_key},
        json={"status": "REQUEST_RELEASE"},
    ).raise_for_status()
    run = cluster.run_to_end(SYSTEM_DAG, run_id, timeout=300)
    if run["state"] != "success":
        pytest.fail(f"{SYSTEM_DAG} ended {run['state']}\n{cluster.describe_run(SYSTEM_DAG, run_id)}")


@pytest.fixture(scope="module")
def deferred_run(airflow_cluster: AirflowCluster, local_server: LocalServer) -> dict[str, Any]:
    """One run of the system DAG, with what was seen while its sensor was deferred."""
    with airflow_cluster.timed(f"{SYSTEM_DAG}: trigger until the sensor is deferred"):
        run_id, deferred, session_id = _start_deferred_run(airflow_cluster)
    # The session is still running: the trigger is really waiting, not replaying an answer it already had.
    status = _session_status(local_server, session_id)
    with airflow_cluster.timed(f"{SYSTEM_DAG}: release until the run succeeded"):
        _release_and_finish(airflow_cluster, local_server, run_id, session_id)
    return {
        "run_id": run_id,
        "session_id": session_id,
        "deferred_ti": deferred,
        "status_while_deferred": status,
    }


def test_deferred_sensor_waits_in_the_separate_triggerer(
    airflow_cluster: AirflowCluster, deferred_run: dict[str, Any]
) -> None:
    cluster = airflow_cluster
    deferred, session_id = deferred_run["deferred_ti"], deferred_run["session_id"]

    _assert_deferred_to_the_triggerer(deferred)
    assert deferred_run["status_while_deferred"] == "RUNNING"
    jobs = cluster.client.get("/api/v2/jobs", params={"job_type": "TriggererJob"}).raise_for_status().json()
    assert deferred["triggerer_job"]["id"] in {job["id"] for job in jobs["jobs"]}

    _assert_resumed_from_the_triggerer(cluster, SYSTEM_DAG, deferred_run["run_id"], SENSOR, session_id)


def _assert_deferred_to_the_triggerer(ti: dict[str, Any]) -> None:
    """While deferred, the trigger row held our class and was claimed by the triggerer's job."""
    assert ti["trigger"]["classpath"] == TRIGGER_CLASSPATH
    assert ti["triggerer_job"]["job_type"] == "TriggererJob"
    assert ti["trigger"]["triggerer_id"] == ti["triggerer_job"]["id"]


def _assert_resumed_from_the_triggerer(
    cluster: AirflowCluster, dag_id: str, run_id: str, task_id: str, session_id: str
) -> None:
    """The triggerer wrote its records into the sensor's log; then the worker resumed with the event."""
    log = cluster.task_log(dag_id, run_id, task_id)
    assert "triggerer_job_runner.py" in log
    starting = re.search(r"\(ID \d+\) starting", log)
    assert starting, log
    fired = log.index("Trigger fired event")
    resumed = log.index(f"Browserbase session {session_id} reached status COMPLETED")
    assert starting.start() < fired < resumed, log
    fired_line = log[fired:].splitlines()[0]
    assert session_id in fired_line, fired_line
    assert "'status': 'success'" in fired_line, fired_line

    tis = {ti["task_id"]: ti for ti in cluster.task_instances(dag_id, run_id)}
    assert tis[task_id]["state"] == "success"
    assert tis[task_id]["try_number"] == 1, "the sensor resumed in the same try, as a deferral should"


def test_scrape_example_runs_to_success(airflow_cluster: AirflowCluster, local_server: LocalServer) -> None:
    from airflow_provider_browserbase.local.demo_site import product_records

    cluster = airflow_cluster
    demo_url = f"{local_server.base_url}/demo"
    output_dir = cluster.home / "scrape-output"
    with cluster.timed(f"{SCRAPE_DAG}: parsed"):
        cluster.wait_for_dag(SCRAPE_DAG)
    cluster.unpause(SCRAPE_DAG)
    deferred: list[dict[str, Any]] = []

    def watch_sensor(tis: list[dict[str, Any]]) -> None:
        for ti in tis:
            if ti["task_id"] == SCRAPE_SENSOR and ti["state"] == "deferred" and ti.get("triggerer_job"):
                deferred.append(ti)

    with cluster.timed(f"{SCRAPE_DAG}: trigger until the run ended"):
        run_id = cluster.trigger(SCRAPE_DAG, conf={"base_url": demo_url, "output_dir": str(output_dir)})
        run = cluster.run_to_end(SCRAPE_DAG, run_id, timeout=420, on_poll=watch_sensor)
    if run["state"] != "success":
        pytest.fail(f"{SCRAPE_DAG} ended {run['state']}\n{cluster.describe_run(SCRAPE_DAG, run_id)}")
    _record_release_margin(cluster, run_id)

    states = {ti["task_id"]: ti["state"] for ti in cluster.task_instances(SCRAPE_DAG, run_id)}
    assert set(states.values()) == {"success"}, states
    assert _xcom(cluster, SCRAPE_DAG, run_id, "scrape_products", "records") == product_records(demo_url)
    screenshot = Path(_xcom(cluster, SCRAPE_DAG, run_id, "scrape_products", "screenshot"))
    assert screenshot.is_relative_to(output_dir)
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    session_id = _xcom(cluster, SCRAPE_DAG, run_id, CREATE, "session_id")
    assert _session_status(local_server, session_id) == "COMPLETED"

    # The scrape's disconnect released the session; it was still RUNNING when the sensor first poked, so
    # the example's own sensor waited in the triggerer, and resumed with the trigger's event.
    assert deferred, (
        f"{SCRAPE_SENSOR} was never seen DEFERRED: raise RELEASE_DELAY in conftest.py\n"
        f"{cluster.describe_run(SCRAPE_DAG, run_id)}"
    )
    _assert_deferred_to_the_triggerer(deferred[0])
    _assert_resumed_from_the_triggerer(cluster, SCRAPE_DAG, run_id, SCRAPE_SENSOR, session_id)


def _record_release_margin(cluster: AirflowCluster, run_id: str) -> None:
    """Put in timings.txt how long after the scrape's end the sensor started: RELEASE_DELAY must exceed it."""
    tis = {ti["task_id"]: ti for ti in cluster.task_instances(SCRAPE_DAG, run_id)}
    scraped = tis["scrape_products"].get("end_date")
    poked = tis[SCRAPE_SENSOR].get("start_date")
    if scraped and poked:
        gap = datetime.fromisoformat(poked) - datetime.fromisoformat(scraped)
        cluster.timings[f"{SCRAPE_DAG}: sensor started after the scrape ended (< RELEASE_DELAY)"] = round(
            gap.total_seconds(), 1
        )


def test_agent_example_browses_and_links_its_session(
    airflow_cluster: AirflowCluster, local_server: LocalServer
) -> None:
    pytest.importorskip("airflow.providers.common.ai", reason="the agent example needs the 'ai' extra")
    from airflow_provider_browserbase.local.demo_site import PRODUCTS
    from tests.ai.scripted_models import FOREIGN_URL
    from tests.ai.scripted_openai import ScriptedOpenAI

    cluster = airflow_cluster
    lamp = next(p for p in PRODUCTS if "lamp" in p.name.lower())
    demo_url = f"{local_server.base_url}/demo"
    before = set(_session_statuses(local_server))
    # The model holds its third answer (after goto and read_text): the agent is mid-run, in its session.
    with ScriptedOpenAI(pause_at=3) as llm:
        # The model's connection, as a user adds it in the UI: a pydanticai connection to an
        # OpenAI-compatible endpoint (the scripted server), model "lamp" picking the script.
        cluster.client.post(
            "/api/v2/connections",
            json={
                "connection_id": "pydanticai_default",
                "conn_type": "pydanticai",
                "host": llm.base_url,
                "password": "sk-scripted-key",
                "extra": json.dumps({"model": "openai-chat:lamp"}),
            },
        ).raise_for_status()
        with cluster.timed(f"{AGENT_DAG}: parsed"):
            cluster.wait_for_dag(AGENT_DAG)
        cluster.unpause(AGENT_DAG)
        with cluster.timed(f"{AGENT_DAG}: trigger until the run ended"):
            run_id = cluster.trigger(AGENT_DAG, conf={"shop_url": demo_url})
            cluster.wait_for("the agent to be mid-run", llm.paused.is_set, 240, 0.5)
            live = _live_link_while_browsing(cluster, local_server, run_id)
            llm.resume.set()
            run = cluster.run_to_end(AGENT_DAG, run_id, timeout=300)
        prompts = llm.prompts()
    if run["state"] != "success":
        pytest.fail(f"{AGENT_DAG} ended {run['state']}\n{cluster.describe_run(AGENT_DAG, run_id)}")

    assert _xcom(cluster, AGENT_DAG, run_id, AGENT_TASK, "return_value") == lamp.sku
    # What only the shop's pages say reached the model, read by the browser; the allow-list (rendered
    # from the run's conf) refused a foreign URL first.
    assert any(f"{lamp.name} | {lamp.sku} | ${lamp.price:.2f}" in p for p in prompts)
    assert any(FOREIGN_URL in p and f"only open URLs under {demo_url}" in p for p in prompts)

    # One session, made for this task, and released by the toolset when the run ended. (This module's
    # server keeps a released session RUNNING for its release delay, as Browserbase does, and then
    # completes it: the release is what the toolset owes, so the test does not wait the delay out.)
    created = sorted(set(_session_statuses(local_server)) - before)
    assert len(created) == 1, created
    session_id = created[0]
    tags = _session(local_server, session_id)["userMetadata"]["airflow"]
    assert (tags["dag_id"], tags["task_id"], tags["run_id"]) == (AGENT_DAG, AGENT_TASK, run_id)
    record = local_server.app.state.registry.sessions[session_id]  # type: ignore[union-attr]
    assert record.release_requested_at is not None or record.status == "COMPLETED"
    log = cluster.task_log(AGENT_DAG, run_id, AGENT_TASK)
    assert f"Ended Browserbase session {session_id}" in log, log[-3000:]

    # The button the policy gave the task, as the UI reads it: the page the toolset stored for the
    # session, which opens that session on the server (its live view until the delay ends, then its
    # status page).
    stored = _xcom(cluster, AGENT_DAG, run_id, AGENT_TASK, "browserbase_session_url")
    assert stored == live
    assert stored.startswith(f"{local_server.base_url}/sessions/{session_id}/live?token=")
    links = cluster.extra_links(AGENT_DAG, run_id, AGENT_TASK)
    assert links["Browserbase Session"] == stored, links
    page = httpx.get(stored)
    assert page.status_code == 200, page.text[:300]
    title = rf"<title>Session {session_id} \((live|ended)\) · browserbase-local</title>"
    assert re.search(title, page.text), page.text[:500]


def _live_link_while_browsing(cluster: AirflowCluster, server: LocalServer, run_id: str) -> str:
    """While the agent runs, its task's button already opens the live view of the session it browses."""
    states = {ti["task_id"]: ti["state"] for ti in cluster.task_instances(AGENT_DAG, run_id)}
    assert states == {AGENT_TASK: "running"}, states
    links = cluster.extra_links(AGENT_DAG, run_id, AGENT_TASK)
    assert "Browserbase Session" in links, (
        f"{links}: the provider's airflow.policy entry point did not run; is the installed package older "
        "than pyproject.toml (uv pip install -e .)?"
    )
    url = links["Browserbase Session"]
    assert url, "no Browserbase Session link while the agent runs"
    assert url.startswith(f"{server.base_url}/sessions/"), url
    page = httpx.get(url)
    assert page.status_code == 200, page.text[:300]
    live_title = r"<title>Session [\w-]+ \(live\) · browserbase-local</title>"
    assert re.search(live_title, page.text), page.text[:500]
    return str(url)


def _session(server: LocalServer, session_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{server.base_url}/v1/sessions/{session_id}", headers={"X-BB-API-Key": server.api_key}
    )
    return dict(response.raise_for_status().json())


def _session_statuses(server: LocalServer) -> dict[str, str]:
    response = httpx.get(f"{server.base_url}/v1/sessions", headers={"X-BB-API-Key": server.api_key})
    return {s["id"]: s["status"] for s in response.raise_for_status().json()}


def test_connection_form_shows_the_browserbase_fields(
    airflow_cluster: AirflowCluster, local_server: LocalServer, ui_browser: Browser, artifacts: Path
) -> None:
    page = _ui_page(ui_browser, airflow_cluster, "/")
    try:
        page.get_by_role("button", name="Admin").click()
        page.get_by_role("menuitem", name="Connections").click()
        page.get_by_role("button", name="Add Connection").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("combobox").fill("Browserbase")
        page.keyboard.press("Enter")

        dialog.get_by_label("Connection ID").fill("browserbase_ui")
        host, api_key = dialog.get_by_label("API base URL"), dialog.get_by_label("API Key")
        host.fill(local_server.base_url)
        api_key.fill(local_server.api_key)
        assert api_key.get_attribute("type") == "password"
        assert "api.browserbase.com" in (host.get_attribute("placeholder") or "")
        for hidden in ("Login", "Port", "Schema"):
            assert dialog.get_by_label(hidden, exact=True).count() == 0, f"{hidden} should be hidden"
        page.screenshot(path=artifacts / "connection-form-standard-fields.png")

        dialog.get_by_role("button", name="Extra Fields", exact=True).click()
        # Airflow's form ties the extra field's <label> to another id, so it is found by its input id.
        project = dialog.locator("#element_project_id")
        project.fill("proj-from-ui")
        assert dialog.get_by_text("Project ID", exact=True).is_visible()
        page.screenshot(path=artifacts / "connection-form-extra-fields.png")

        dialog.get_by_role("button", name="Save").click()
        dialog.wait_for(state="hidden")
    finally:
        page.context.close()

    saved = airflow_cluster.client.get("/api/v2/connections/browserbase_ui").raise_for_status().json()
    assert saved["conn_type"] == "browserbase"
    assert saved["host"] == local_server.base_url
    assert '"project_id": "proj-from-ui"' in saved["extra"]
    # The API server (another process) imports our hook and tests the connection against the local server.
    tested = airflow_cluster.client.post(
        "/api/v2/connections/test",
        json={
            "connection_id": "browserbase_ui",
            "conn_type": "browserbase",
            "host": local_server.base_url,
            "password": local_server.api_key,
        },
    )
    assert tested.raise_for_status().json()["status"] is True, tested.text


def test_create_session_task_links_to_the_live_session(
    airflow_cluster: AirflowCluster, local_server: LocalServer, ui_browser: Browser, artifacts: Path
) -> None:
    """While the sensor waits in the triggerer, a person follows the link from the create-session task."""
    cluster = airflow_cluster
    run_id, _, session_id = _start_deferred_run(cluster)
    run_path = f"/dags/{SYSTEM_DAG}/runs/{quote(run_id, safe='')}/tasks"
    # The live view with the session's capability, which only /debug (with the API key) hands out.
    headers = {"X-BB-API-Key": local_server.api_key}
    debug = httpx.get(f"{local_server.base_url}/v1/sessions/{session_id}/debug", headers=headers)
    # The person's viewer (debuggerFullscreenUrl) with its status line; debuggerUrl is DevTools.
    expected = debug.raise_for_status().json()["debuggerFullscreenUrl"].replace("&fullscreen=1", "")
    assert expected.startswith(f"{local_server.base_url}/sessions/{session_id}/live?token=")
    page = _ui_page(ui_browser, cluster, f"{run_path}/{SENSOR}/details")
    try:
        # The sensor's details show the trigger it handed to the triggerer.
        page.get_by_text(TRIGGER_CLASSPATH).first.wait_for()
        page.screenshot(path=artifacts / "sensor-deferred-to-triggerer.png", full_page=True)

        page.goto(f"{cluster.base_url}{run_path}/{CREATE}")
        page.get_by_role("link", name="Details", exact=True).click()
        link = page.get_by_role("link", name="Browserbase Session", exact=True)
        link.wait_for()
        assert link.get_attribute("href") == expected
        assert cluster.extra_links(SYSTEM_DAG, run_id, CREATE) == {"Browserbase Session": expected}
        page.screenshot(path=artifacts / "task-browserbase-session-link.png")

        # Airflow opens links to another origin in a new tab; the page may answer or redirect.
        with (
            page.expect_popup() as popup,
            page.context.expect_event("response", lambda r: r.url == expected) as answer,
        ):
            link.click()
        assert answer.value.status < 400, (
            f"the session link {expected} answered {answer.value.status}: {answer.value.text()[:300]}"
        )
        opened = popup.value
        opened.wait_for_load_state()
        # The viewer draws the first screencast frame of the session's page; the screenshot should show it.
        from playwright.sync_api import expect

        expect(opened.locator("#screen")).to_have_attribute(
            "src", re.compile(r"^data:image/jpeg;base64,"), timeout=30000
        )
        opened.screenshot(path=artifacts / "session-live-page.png")
    finally:
        page.context.close()
        _release_and_finish(cluster, local_server, run_id, session_id)


def _ui_page(browser: Browser, cluster: AirflowCluster, path: str) -> Page:
    """A page logged in through SimpleAuthManager's all-admins login, opened at ``path``."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{cluster.base_url}/auth/token/login?next={quote(cluster.base_url + path, safe='')}")
    page.wait_for_load_state("networkidle")
    return page


# The live handoff's tests run here, on this module's Airflow deployment (see handoff_checks.py).
from handoff_checks import (  # noqa: E402
    test_a_person_signs_in_through_the_live_view_and_the_scrape_uses_the_login,
    test_cancel_ends_the_session_and_skips_the_rest,
)

__all__ = [
    "test_a_person_signs_in_through_the_live_view_and_the_scrape_uses_the_login",
    "test_cancel_ends_the_session_and_skips_the_rest",
]
