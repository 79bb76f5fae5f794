"""
Faults while a task drives real Chromium through ``browserbase-local``: the user's function raises, the
CDP connection drops, the browser crashes, the API fails around the task. The session always ends, and
the task's error says what happened.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import pendulum
import pytest
from reliability_helpers import FAULT_TALLY, Admin, pushed

from airflow_provider_browserbase.exceptions import BrowserbaseSessionError
from airflow_provider_browserbase.hooks import _transport
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.operators.playwright import BrowserbasePlaywrightOperator

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_browserbase.local.server import LocalServer


@pytest.fixture(autouse=True)
def short_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_transport, "INITIAL_RETRY_DELAY", 0.01)


def run_operator(
    conn_id: str, function: Callable[..., Any], context: dict[str, Any], **settings: Any
) -> tuple[BaseException | None, str]:
    """Run the operator; return what it raised (or ``None``) and the id of the session it created."""
    task = BrowserbasePlaywrightOperator(
        task_id="t", python_callable=function, browserbase_conn_id=conn_id, **settings
    )
    error: BaseException | None = None
    try:
        task.execute(context)
    except BaseException as err:  # the test inspects whatever came out
        error = err
    return error, pushed(context)["session_id"]


@pytest.mark.parametrize("keep_alive", [False, True], ids=["plain", "keep-alive"])
def test_the_users_function_raises(
    chromium_conn: str,
    chromium_admin: Admin,
    chromium_server: LocalServer,
    keep_alive: bool,
    make_context: Any,
) -> None:
    def broken(page: Any) -> None:
        page.goto(f"{chromium_server.base_url}/demo/products")
        raise LookupError("no product table on the page")

    error, session_id = run_operator(chromium_conn, broken, make_context(), keep_alive=keep_alive)
    assert isinstance(error, LookupError)  # the user's error, not wrapped or hidden by the clean-up
    chromium_admin.wait_status(session_id, "COMPLETED")


def test_the_decorated_function_raises(
    chromium_conn: str, chromium_admin: Admin, chromium_server: LocalServer, make_context: Any
) -> None:
    from airflow.sdk import DAG, task

    with DAG("rel_decorated_raises", schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as dag:

        @task.browserbase(browserbase_conn_id=chromium_conn, keep_alive=True)
        def broken(url: str, page: Any = None) -> None:
            page.goto(url)
            raise ValueError("the price column is empty")

        broken(f"{chromium_server.base_url}/demo/products")

    context = make_context()
    with pytest.raises(ValueError, match="price column"):
        dag.get_task("broken").execute(context)
    chromium_admin.wait_status(pushed(context)["session_id"], "COMPLETED")


@pytest.mark.parametrize(
    ("keep_alive", "expected"),
    [
        (False, r"ended with status COMPLETED while the task was using it"),
        (True, r"browser connection to Browserbase session \S+ was lost .*status RUNNING"),
    ],
    ids=["plain", "keep-alive"],
)
def test_the_cdp_connection_drops_mid_task(
    chromium_conn: str,
    chromium_admin: Admin,
    chromium_server: LocalServer,
    keep_alive: bool,
    expected: str,
    make_context: Any,
) -> None:
    def dropped(page: Any, session: Any) -> None:
        page.goto(f"{chromium_server.base_url}/demo/products")
        assert chromium_admin.drop_connections(session.id) == 1
        FAULT_TALLY["injected"] += 1
        page.goto(f"{chromium_server.base_url}/demo/products?page=2")

    error, session_id = run_operator(chromium_conn, dropped, make_context(), keep_alive=keep_alive)
    assert isinstance(error, BrowserbaseSessionError), repr(error)
    assert error.session_id == session_id
    assert error.__cause__ is not None  # Playwright's own error stays attached for the traceback

    assert re.search(expected, str(error)), str(error)
    # A plain session ends when its client goes; a keepAlive one is ended by the operator.
    chromium_admin.wait_status(session_id, "COMPLETED")


def test_the_browser_crashes_mid_task(
    chromium_conn: str, chromium_admin: Admin, chromium_server: LocalServer, make_context: Any
) -> None:
    def crashed(page: Any, session: Any) -> None:
        page.goto(f"{chromium_server.base_url}/demo/products")
        chromium_admin.crash(session.id)
        FAULT_TALLY["injected"] += 1
        page.wait_for_timeout(300_000)

    started = time.monotonic()
    error, session_id = run_operator(chromium_conn, crashed, make_context(), keep_alive=True)
    # Far below the 300 s wait a hung task would sit in; far above a loaded machine's create + crash.
    assert time.monotonic() - started < 120, "the task hung on a dead browser"
    assert isinstance(error, BrowserbaseSessionError), repr(error)
    assert (
        str(error) == f"Browserbase session {session_id} ended with status ERROR while the task was using it"
    )
    assert error.status == "ERROR"
    assert chromium_admin.status(session_id) == "ERROR"


def test_api_faults_around_a_browser_task(
    chromium_conn: str, chromium_admin: Admin, chromium_server: LocalServer, make_context: Any
) -> None:
    """A 500 burst on create and a 429 storm on the release: the task succeeds and the session ends."""
    chromium_admin.fault("/v1/sessions", "POST", status=500, count=2)
    chromium_admin.fault("/v1/sessions/*", "POST", status=429, count=2, headers={"retry-after-ms": "50"})
    FAULT_TALLY["injected"] += 4
    before = {s["id"] for s in chromium_admin.sessions()}

    def title(page: Any) -> str:
        page.goto(f"{chromium_server.base_url}/demo/products")
        return page.title()

    context = make_context()
    task = BrowserbasePlaywrightOperator(
        task_id="t", python_callable=title, browserbase_conn_id=chromium_conn, keep_alive=True
    )
    assert task.execute(context)
    assert chromium_admin.faults() == []
    session_id = pushed(context)["session_id"]
    assert {s["id"] for s in chromium_admin.sessions()} - before == {session_id}
    chromium_admin.wait_status(session_id, "COMPLETED")


def test_a_lost_create_answer_with_a_real_browser(chromium_conn: str, chromium_admin: Admin) -> None:
    before = {s["id"] for s in chromium_admin.sessions()}
    # The hook gives up waiting after api_timeout and looks the session up by its nonce; the session is
    # listed once its browser has started, which a loaded machine can stretch past a few seconds (a lookup
    # before that finds nothing, and the hook sends again: a second session, released, but listed).
    chromium_admin.fault("/v1/sessions", "POST", delay_after=12, count=1)
    FAULT_TALLY["injected"] += 1
    with BrowserbaseHook(chromium_conn, api_timeout=8) as hook:
        created = hook.create_session(keep_alive=True)
        assert {s["id"] for s in chromium_admin.sessions()} - before == {created.id}
        time.sleep(5)  # the delayed answer arrives at the server's side; still one session
        assert {s["id"] for s in chromium_admin.sessions()} - before == {created.id}
        hook.end_session(created.id)
    chromium_admin.wait_status(created.id, "COMPLETED")
