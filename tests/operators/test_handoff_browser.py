"""
``BrowserbaseLiveHandoffOperator`` with real Chromium: the start page, a person signing in through the
live view, and the check after each "Done" (asked again while the person is not finished).

Airflow's side is the real ``HITLOperator`` with its request write recorded (the system test runs the
whole thing under a scheduler); the answers are the events Airflow resumes the task with.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from unittest import mock
from uuid import uuid4

import httpx
import pytest
from airflow.providers.standard.version_compat import AIRFLOW_V_3_3_PLUS

from airflow_provider_browserbase.links.live_view import LIVE_VIEW_URL_XCOM_KEY
from airflow_provider_browserbase.operators.handoff import BrowserbaseLiveHandoffOperator
from tests.handoff_person import sign_in_through_the_live_view

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from playwright.sync_api import Browser

    from airflow_provider_browserbase.local.server import LocalServer

if AIRFLOW_V_3_3_PLUS:
    from airflow.sdk.exceptions import TaskAwaitingInput as Waiting
else:
    from airflow.providers.common.compat.sdk import TaskDeferred as Waiting

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def person_browser() -> Iterator[Browser]:
    """An ordinary headless Chromium, the person's."""
    from playwright.sync_api import sync_playwright

    from airflow_provider_browserbase.local.chromium import find_chromium

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium())
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def context(make_context: Callable[..., dict[str, Any]]) -> Iterator[dict[str, Any]]:
    made = make_context(task_id="sign_in", id=uuid4())
    store: dict[str, Any] = {}
    made["ti"].xcom_push.side_effect = lambda key, value: store.__setitem__(key, value)
    made["ti"].xcom_pull.side_effect = lambda task_ids=None, key="return_value", **_: store.get(key)
    made["task_instance"] = made["ti"]
    made["xcom"] = store
    with mock.patch("airflow.providers.standard.operators.hitl.upsert_hitl_detail") as upsert:
        made["requests"] = upsert
        yield made


def done() -> dict[str, Any]:
    return {
        "chosen_options": ["Done"],
        "params_input": {},
        "responded_at": datetime.now(UTC),
        "responded_by_user": {"id": "admin", "name": "admin"},
    }


def in_worker(call: Callable[..., Any], *args: Any) -> Any:
    """Run an operator method in a thread of its own: it starts Playwright, as the person's browser did."""
    with ThreadPoolExecutor(1) as worker:
        return worker.submit(call, *args).result()


def _session(server: LocalServer, session_id: str) -> dict[str, Any]:
    headers = {"X-BB-API-Key": server.api_key}
    response = httpx.get(f"{server.base_url}/v1/sessions/{session_id}", headers=headers)
    return dict(response.raise_for_status().json())


def test_a_person_signs_in_through_the_live_view_after_an_early_done(
    local_server: LocalServer, person_browser: Browser, context: dict[str, Any]
) -> None:
    task = BrowserbaseLiveHandoffOperator(
        task_id="sign_in",
        start_url=f"{local_server.base_url}/demo/login-2fa",
        done_when_url_matches=r"/account$",
        done_when_selector="#signed-in-as",
        check_timeout=1.0,
    )
    with pytest.raises(Waiting):
        in_worker(task.execute, context)
    session_id = context["xcom"]["session_id"]
    live_url = context["xcom"][LIVE_VIEW_URL_XCOM_KEY]

    # "Done" before signing in: the pages fail the check, so the person is asked again.
    with pytest.raises(Waiting):
        in_worker(task.execute_complete, context, done())
    assert context["requests"].call_count == 2
    assert _session(local_server, session_id)["status"] == "RUNNING"

    connect_url = _session(local_server, session_id)["connectUrl"]
    code = sign_in_through_the_live_view(person_browser, live_url, connect_url)
    assert len(code) == 6

    result = in_worker(task.execute_complete, context, done())
    assert result == {"session_id": session_id, "context_id": None, "chosen_options": ["Done"]}
    assert _session(local_server, session_id)["status"] == "COMPLETED"
