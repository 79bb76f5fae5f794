"""``release_delay``: a released session stays RUNNING, browser and clients alive, then ends COMPLETED."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

import pytest
from local_helpers import browser_pid, client, start_server, wait_for_status, wait_gone
from playwright.sync_api import Error as PlaywrightError

from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.local.server import LocalServer
from airflow_provider_browserbase.models import is_terminal
from tests.support import connection_uri_env

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx
    from playwright.sync_api import Playwright

pytestmark = pytest.mark.browser

# Long enough that the first test's page load, its pause and its second release fit inside it on a loaded
# machine (it was 2 s: a slow goto let the session end before the second release).
DELAY = 6.0


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def delayed() -> Iterator[LocalServer]:
    running = start_server(max_sessions=2, release_delay=DELAY)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def delayed_api(delayed: LocalServer) -> Iterator[httpx.Client]:
    with client(delayed) as http:
        yield http


def release(api: httpx.Client, session_id: str) -> dict:
    answer = api.post(f"/v1/sessions/{session_id}", json={"status": "REQUEST_RELEASE"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_release_answers_running_and_the_session_completes_after_the_delay(
    delayed_api: httpx.Client, delayed: LocalServer, pw: Playwright
) -> None:
    created = delayed_api.post("/v1/sessions", json={"timeout": 600}).json()
    pid = browser_pid(delayed, created["id"])
    browser = pw.chromium.connect_over_cdp(created["connectUrl"])
    try:
        page = browser.contexts[0].pages[0]
        released_at = dt.datetime.now(dt.UTC)
        first = release(delayed_api, created["id"])
        assert first["status"] == "RUNNING"
        assert first["endedAt"] is None
        # The client stays connected and the browser keeps working until the release completes.
        page.goto(f"{delayed.base_url}/site/")
        assert page.title() == "Test site"
        time.sleep(1.0)
        again = release(delayed_api, created["id"])  # idempotent: does not restart the delay
        assert again["status"] == "RUNNING"
        assert again["updatedAt"] == first["updatedAt"]

        ended = wait_for_status(delayed_api, created["id"], "COMPLETED", timeout=DELAY + 20)
        ended_at = parse(ended["endedAt"])
        assert ended_at >= released_at + dt.timedelta(seconds=DELAY - 0.05)
        # Measured from the first release; the second one, a second later, did not push the end back.
        assert ended_at < released_at + dt.timedelta(seconds=DELAY + 1.0 + 10)
        wait_gone(pid)
        with pytest.raises(PlaywrightError):  # the client was connected until the end, and no longer
            page.title()
    finally:
        browser.close()
    assert release(delayed_api, created["id"])["endedAt"] == ended["endedAt"]


def test_last_client_disconnect_is_a_release_and_waits_too(
    delayed_api: httpx.Client, delayed: LocalServer, pw: Playwright
) -> None:
    created = delayed_api.post("/v1/sessions", json={"timeout": 600}).json()
    browser = pw.chromium.connect_over_cdp(created["connectUrl"])
    browser.close()
    time.sleep(0.3)
    assert delayed_api.get(f"/v1/sessions/{created['id']}").json()["status"] == "RUNNING"
    ended = wait_for_status(delayed_api, created["id"], "COMPLETED", timeout=DELAY + 20)
    assert parse(ended["endedAt"]) >= parse(ended["startedAt"]) + dt.timedelta(seconds=DELAY - 0.05)


def test_hook_end_session_with_wait_returns_the_terminal_session(
    delayed: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BB_DELAYED", connection_uri_env(delayed.base_url, delayed.api_key))
    with BrowserbaseHook("bb_delayed") as hook:
        created = hook.create_session(session_timeout=120, keep_alive=True)
        assert not hook.end_session(created.id).is_terminal  # type: ignore[union-attr]
        ended = hook.end_session(created.id, wait=True, wait_timeout=DELAY + 30, poll_interval=0.2)
    assert ended is not None
    assert is_terminal(ended.status)
    assert ended.status == "COMPLETED"
    assert ended.ended_at is not None


def test_release_delay_must_be_finite_and_not_negative() -> None:
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="release_delay"):
            LocalServer(release_delay=bad)
