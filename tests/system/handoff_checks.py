"""
The live handoff example (``example_browserbase_login_handoff``) under the real scheduler, API server and
UI, with the test as the person. ``test_real_scheduler.py`` imports these tests, so that they run on its
Airflow deployment (starting one costs a minute of CI on two cores).

- "Done": the ``sign_in`` task waits for a person (``awaiting_input`` on Airflow 3.3, deferred on 3.1–3.2)
  with the session on the demo's two-step login. The Required Actions page shows the request and its
  live-view link (screenshots in ``test-artifacts/system/``). A "Done" before signing in fails the check
  and the same request is asked again. The person opens the task's "Browserbase Live View" link, signs in
  through it (code from the second tab included), and answers "Done" through the REST API as the Required
  Actions page does. The operator's check passes, the session ends (saving the
  context), and ``read_account``, in a new session from the context, reads the signed-in account page.
- "Cancel": the session ends, ``sign_in`` and ``read_account`` are skipped, the context is still deleted,
  and the run succeeds (skipped is not failed): no session of the run is left RUNNING.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from tests.handoff_person import sign_in_through_the_live_view

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_cluster import AirflowCluster
    from playwright.sync_api import Browser

    from airflow_provider_browserbase.local.server import LocalServer

HANDOFF_DAG = "example_browserbase_login_handoff"
RUNS = f"/api/v2/dags/{HANDOFF_DAG}/dagRuns"
HANDOFF = "sign_in"
LIVE_VIEW = "Browserbase Live View"


def _api(server: LocalServer, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(
        method, f"{server.base_url}{path}", headers={"X-BB-API-Key": server.api_key}, timeout=30, **kwargs
    )
    return response.raise_for_status().json()


def _xcom(cluster: AirflowCluster, run_id: str, task_id: str, key: str) -> Any:
    path = f"{RUNS}/{quote(run_id, safe='')}/taskInstances/{task_id}/xcomEntries/{key}"
    response = cluster.client.get(path, params={"deserialize": "true", "stringify": "false"})
    return response.raise_for_status().json()["value"]


def _states(cluster: AirflowCluster, run_id: str) -> dict[str, str]:
    return {ti["task_id"]: ti["state"] for ti in cluster.task_instances(HANDOFF_DAG, run_id)}


def _parked(cluster: AirflowCluster, run_id: str, times: int) -> None:
    """
    Wait until the worker that parked the handoff for the ``times``-th time has wound down.

    Airflow 3.3.2 has a race here: the task is ``awaiting_input`` (and can be answered) a few seconds
    before the worker that parked it finishes; an answer in between resumes the task while that worker is
    still running, and when it finishes the scheduler fails the resumed task ("finished with state
    success, but the task instance's state attribute is running"). A person takes longer than that; the
    test waits until the scheduler has processed the worker's end (its "TaskInstance Finished" line with
    ``state=awaiting_input``).
    """
    ti_id = next(ti["id"] for ti in cluster.task_instances(HANDOFF_DAG, run_id) if ti["task_id"] == HANDOFF)

    def finished() -> bool:
        lines = cluster.log_path("scheduler").read_text(errors="replace").splitlines()
        # The scheduler's own record of the parking worker's end: the supervisor's "Workload finished" line
        # comes a moment before the scheduler has processed that end, and an answer in between still races.
        parked = [
            x
            for x in lines
            if "TaskInstance Finished:" in x and f"ti_id={ti_id}," in x and "state=awaiting_input," in x
        ]
        return len(parked) >= times

    cluster.wait_for(f"the worker that parked {HANDOFF} to finish", finished, 120, 0.5)


def _start_waiting_run(cluster: AirflowCluster) -> tuple[str, str]:
    """Trigger the example; wait until its handoff waits for a person. Returns the run and session ids."""
    cluster.wait_for_dag(HANDOFF_DAG)
    cluster.unpause(HANDOFF_DAG)
    run_id = cluster.trigger(HANDOFF_DAG)

    def waiting() -> str | None:
        state = _states(cluster, run_id).get(HANDOFF)
        if state in ("failed", "upstream_failed", "success", "skipped"):
            raise AssertionError(f"{HANDOFF} ended {state}\n{cluster.describe_run(HANDOFF_DAG, run_id)}")
        return state if state in ("awaiting_input", "deferred") else None

    if cluster.wait_for(f"{HANDOFF} to wait for a person", waiting, 300, 0.5) == "awaiting_input":
        _parked(cluster, run_id, 1)
    return run_id, str(_xcom(cluster, run_id, HANDOFF, "session_id"))


def _answer(cluster: AirflowCluster, run_id: str, option: str) -> None:
    """Answer as the Required Actions page does: PATCH the task instance's HITL detail."""
    path = f"{RUNS}/{quote(run_id, safe='')}/taskInstances/{HANDOFF}/-1/hitlDetails"
    response = cluster.client.patch(path, json={"chosen_options": [option], "params_input": {}})
    assert response.status_code == 200, response.text


def _answer_too_early(cluster: AirflowCluster, run_id: str) -> None:
    """ "Done" before signing in: the task resumes, its check fails, and it asks the same request again."""
    _answer(cluster, run_id, "Done")
    detail = f"{RUNS}/{quote(run_id, safe='')}/taskInstances/{HANDOFF}/-1/hitlDetails"

    def asked_again() -> bool:
        states = _states(cluster, run_id)
        if states.get(HANDOFF) in ("failed", "success", "skipped", "up_for_retry"):
            raise AssertionError(f"{HANDOFF} ended {states}\n{cluster.describe_run(HANDOFF_DAG, run_id)}")
        if states.get(HANDOFF) not in ("awaiting_input", "deferred"):
            return False
        return cluster.client.get(detail).raise_for_status().json()["response_received"] is False

    cluster.wait_for(f"{HANDOFF} to ask again", asked_again, 180, 0.5)
    if _states(cluster, run_id)[HANDOFF] == "awaiting_input":
        _parked(cluster, run_id, 2)
    assert _xcom(cluster, run_id, HANDOFF, "browserbase_handoff_answers") == 1


def _running_sessions_of(server: LocalServer, run_id: str) -> list[str]:
    sessions = _api(server, "GET", "/v1/sessions", params={"status": "RUNNING"})
    tags = [((s.get("userMetadata") or {}).get("airflow") or {}) for s in sessions]
    return [s["id"] for s, tag in zip(sessions, tags, strict=True) if tag.get("run_id") == run_id]


def _wait_for_no_running_session(server: LocalServer, run_id: str, timeout: float = 120) -> None:
    # Released sessions stay RUNNING for the server's release delay (conftest.RELEASE_DELAY).
    deadline = time.monotonic() + timeout
    while (left := _running_sessions_of(server, run_id)) and time.monotonic() < deadline:
        time.sleep(1)
    assert left == [], f"sessions of {run_id} still RUNNING: {left}"


def _screenshot_required_actions(
    browser: Browser, cluster: AirflowCluster, run_id: str, live_url: str, artifacts: Path
) -> None:
    """The Required Actions page lists the request; the task's review shows the body and its link."""
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    try:
        login = f"{cluster.base_url}/auth/token/login?next="
        page.goto(login + quote(f"{cluster.base_url}/required_actions", safe=""))
        page.get_by_text("Sign in to the shop for the nightly scrape").first.wait_for()
        page.screenshot(path=artifacts / "required-actions.png", full_page=True)

        review = f"/dags/{HANDOFF_DAG}/runs/{quote(run_id, safe='')}/tasks/{HANDOFF}/required_actions"
        page.goto(f"{cluster.base_url}{review}")
        link = page.get_by_role("link", name="Open the browser (live view)")
        link.wait_for()  # the UI loads the request after the page (60 s under load, as set above)
        expect(link).to_have_attribute("href", live_url)
        page.get_by_role("button", name="Done").first.wait_for()
        page.screenshot(path=artifacts / "required-action-live-handoff.png", full_page=True)
    finally:
        page.context.close()


def test_a_person_signs_in_through_the_live_view_and_the_scrape_uses_the_login(
    airflow_cluster: AirflowCluster, local_server: LocalServer, ui_browser: Browser, artifacts: Path
) -> None:
    cluster = airflow_cluster
    with cluster.timed(f"{HANDOFF_DAG}: trigger until the handoff waits"):
        run_id, session_id = _start_waiting_run(cluster)
    links = cluster.extra_links(HANDOFF_DAG, run_id, HANDOFF)
    live_url = links[LIVE_VIEW]
    assert live_url
    debug = _api(local_server, "GET", f"/v1/sessions/{session_id}/debug")
    assert live_url == debug["debuggerFullscreenUrl"]
    assert _api(local_server, "GET", f"/v1/sessions/{session_id}")["status"] == "RUNNING"

    _screenshot_required_actions(ui_browser, cluster, run_id, live_url, artifacts)
    with cluster.timed(f"{HANDOFF_DAG}: an early Done is checked and asked again"):
        _answer_too_early(cluster, run_id)
    with cluster.timed(f"{HANDOFF_DAG}: the person signs in through the live view"):
        connect_url = _api(local_server, "GET", f"/v1/sessions/{session_id}")["connectUrl"]
        sign_in_through_the_live_view(
            ui_browser, live_url, connect_url, screenshot=artifacts / "live-handoff-codes-tab.png"
        )
    _answer(cluster, run_id, "Done")
    with cluster.timed(f"{HANDOFF_DAG}: Done until the run succeeded"):
        run = cluster.run_to_end(HANDOFF_DAG, run_id, timeout=300)
    assert run["state"] == "success", cluster.describe_run(HANDOFF_DAG, run_id)
    assert _states(cluster, run_id) == {
        "create_context": "success",
        HANDOFF: "success",
        "read_account": "success",
        "delete_context": "success",
    }
    result = _xcom(cluster, run_id, HANDOFF, "return_value")
    assert result["session_id"] == session_id
    assert result["chosen_options"] == ["Done"]
    assert result["context_id"] == _xcom(cluster, run_id, "create_context", "return_value")
    assert _xcom(cluster, run_id, "read_account", "return_value") == "Signed in as demo"
    assert _api(local_server, "GET", f"/v1/sessions/{session_id}")["status"] == "COMPLETED"
    # The live view's token is where the person needs it (the request, the link), not in the task's log.
    token = parse_qs(urlsplit(live_url).query)["token"][0]
    log = cluster.task_log(HANDOFF_DAG, run_id, HANDOFF)
    assert "Waiting for response" in log or "awaiting" in log.lower() or "Deferring" in log, log[-2000:]
    assert token not in log
    _wait_for_no_running_session(local_server, run_id)


def test_cancel_ends_the_session_and_skips_the_rest(
    airflow_cluster: AirflowCluster, local_server: LocalServer
) -> None:
    cluster = airflow_cluster
    run_id, session_id = _start_waiting_run(cluster)
    assert _api(local_server, "GET", f"/v1/sessions/{session_id}")["status"] == "RUNNING"
    _answer(cluster, run_id, "Cancel")
    run = cluster.run_to_end(HANDOFF_DAG, run_id, timeout=300)
    assert run["state"] == "success", cluster.describe_run(HANDOFF_DAG, run_id)
    assert _states(cluster, run_id) == {
        "create_context": "success",
        HANDOFF: "skipped",
        "read_account": "skipped",
        "delete_context": "success",
    }
    _wait_for_no_running_session(local_server, run_id)
    assert _api(local_server, "GET", f"/v1/sessions/{session_id}")["status"] == "COMPLETED"
