from __future__ import annotations

import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from support import private_artifacts_folders

from airflow_provider_browserbase.exceptions import BrowserbaseSessionError, BrowserbaseValidationError
from airflow_provider_browserbase.hooks._connection import session_url_for
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.links.session import SESSION_URL_XCOM_KEY
from airflow_provider_browserbase.operators.playwright import (
    BrowserbasePlaywrightOperator,
    bind_past_injected,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from airflow_provider_browserbase.local.server import LocalServer


def pushed(context: dict[str, Any]) -> dict[str, Any]:
    return {call.kwargs["key"]: call.kwargs["value"] for call in context["ti"].xcom_push.call_args_list}


@pytest.fixture
def hook(local_server: LocalServer) -> Iterator[BrowserbaseHook]:
    with BrowserbaseHook() as hook:
        yield hook


@pytest.fixture
def demo(local_server: LocalServer) -> str:
    return f"{local_server.base_url}/demo"


def ended_status(hook: BrowserbaseHook, session_id: str, timeout: float = 15) -> str:
    """The session's status once it is terminal (release is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        session = hook.get_session(session_id)
        if session.is_terminal or time.monotonic() > deadline:
            return session.status
        time.sleep(0.1)


def execute_and_kill(
    task: BrowserbasePlaywrightOperator, context: dict[str, Any], started: threading.Event
) -> BaseException | None:
    """Run ``task`` in a thread, call ``on_kill`` once ``started`` is set, and return what the task raised."""
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            task.execute(context)
        except BaseException as err:
            outcome["error"] = err

    worker = threading.Thread(target=run)
    worker.start()
    assert started.wait(60)
    task.on_kill()
    worker.join(30)
    assert not worker.is_alive()
    return outcome.get("error")


def running_sessions_of(hook: BrowserbaseHook, run_id: str) -> list[Any]:
    return hook.list_sessions(status="RUNNING", metadata={"airflow": {"run_id": run_id}})


# Unit-level: which arguments the user's function receives.


@pytest.mark.parametrize(
    ("op_args", "op_kwargs", "expected"),
    [
        (["u"], {}, ([], {"url": "u"})),
        (["u", 3], {}, ([], {"url": "u", "depth": 3})),
        (["u"], {"depth": 2}, ([], {"url": "u", "depth": 2})),
        ([], {"url": "u"}, ([], {"url": "u"})),
        (["u", 3, "extra"], {}, (["u", 3, "extra"], {})),
        (["u"], {"url": "twice"}, (["u"], {"url": "twice"})),
    ],
)
def test_positional_arguments_skip_the_injected_parameters(
    op_args: list[Any], op_kwargs: dict[str, Any], expected: tuple[list[Any], dict[str, Any]]
) -> None:
    def scrape(page, url, depth=1, session=None): ...  # type: ignore[no-untyped-def]

    assert bind_past_injected(scrape, op_args, op_kwargs) == expected


def test_signatures_python_cannot_bind_by_name_keep_the_positional_call() -> None:
    def rest(page, *urls): ...  # type: ignore[no-untyped-def]

    def positional_only(page, url, /): ...  # type: ignore[no-untyped-def]

    assert bind_past_injected(rest, ["a", "b"], {}) == (["a", "b"], {})
    assert bind_past_injected(positional_only, ["a"], {}) == (["a"], {})


def test_is_a_python_operator() -> None:
    from airflow.providers.standard.operators.python import PythonOperator

    task = BrowserbasePlaywrightOperator(
        task_id="t", python_callable=print, templates_dict={"a": "{{ ds }}"}, templates_exts=[".sql"]
    )
    assert isinstance(task, PythonOperator)
    assert {"templates_dict", "op_args", "op_kwargs", "session_id", "browserbase_conn_id"} <= set(
        task.template_fields
    )
    assert task.templates_dict == {"a": "{{ ds }}"}
    assert task.template_ext == [".sql"]


def test_an_async_function_is_refused_when_the_dag_is_parsed() -> None:
    async def scrape(page): ...  # type: ignore[no-untyped-def]

    with pytest.raises(TypeError, match="python_callable must be a plain function, not 'async def'"):
        BrowserbasePlaywrightOperator(task_id="t", python_callable=scrape)


def test_airflow_refuses_a_positional_argument_on_an_injected_name_before_any_session(
    make_context: Callable[..., dict[str, Any]],
) -> None:
    def positional_only(page, url, /): ...  # type: ignore[no-untyped-def]

    # No connection is defined for this id: any request would fail differently.
    task = BrowserbasePlaywrightOperator(
        task_id="t", python_callable=positional_only, op_args=["u"], browserbase_conn_id="no_such_conn"
    )
    with pytest.raises(ValueError, match="The key 'page' in args is a part of kwargs and therefore reserved"):
        task.execute(make_context())
    assert task._session is None


def test_session_settings_cannot_be_combined_with_session_id() -> None:
    with pytest.raises(ValueError, match="keep_alive"):
        BrowserbasePlaywrightOperator(task_id="t", python_callable=print, session_id="s", keep_alive=True)


def test_invalid_settings_fail_before_any_session(make_context: Callable[..., dict[str, Any]]) -> None:
    task = BrowserbasePlaywrightOperator(task_id="t", python_callable=print, session_timeout=5)
    with pytest.raises(BrowserbaseValidationError, match="session_timeout"):
        task.execute(make_context())


# Against browserbase-local and real Chromium.


def test_returns_page_content_and_ends_its_session(
    hook: BrowserbaseHook, demo: str, make_context: Callable[..., dict[str, Any]]
) -> None:
    def read_title(page, url, session, browser, context):  # type: ignore[no-untyped-def]
        assert browser.is_connected()
        assert context["run_id"] == run_id
        page.goto(url)
        return {"title": page.title(), "h1": page.inner_text("h1"), "session": session.id}

    run_id = f"test-{uuid.uuid4().hex}"
    context = make_context(run_id=run_id)
    task = BrowserbasePlaywrightOperator(
        task_id="read", python_callable=read_title, op_kwargs={"url": f"{demo}/products"}, session_timeout=120
    )
    result = task.execute(context)
    assert result["h1"]
    xcoms = pushed(context)
    assert xcoms["session_id"] == result["session"]
    # Stored while the session ran: the live view with its token (the session has ended since).
    live_page = session_url_for(hook.base_url, result["session"])
    assert xcoms[SESSION_URL_XCOM_KEY].startswith(f"{live_page}?token=")
    assert "connect_url" not in xcoms
    assert ended_status(hook, result["session"]) == "COMPLETED"
    assert running_sessions_of(hook, run_id) == []


def test_a_function_that_raises_leaves_no_running_session(
    hook: BrowserbaseHook, demo: str, make_context: Callable[..., dict[str, Any]]
) -> None:
    def broken(page):  # type: ignore[no-untyped-def]
        page.goto(demo)
        raise RuntimeError("the scraper found no table")

    run_id = f"test-{uuid.uuid4().hex}"
    context = make_context(run_id=run_id)
    task = BrowserbasePlaywrightOperator(task_id="broken", python_callable=broken, keep_alive=True)
    with pytest.raises(RuntimeError, match="no table"):
        task.execute(context)
    session_id = pushed(context)["session_id"]
    assert ended_status(hook, session_id) == "COMPLETED"
    assert running_sessions_of(hook, run_id) == []


def test_session_ending_under_the_task_names_its_status(
    hook: BrowserbaseHook, demo: str, make_context: Callable[..., dict[str, Any]]
) -> None:
    def pulled_away(page, session):  # type: ignore[no-untyped-def]
        page.goto(demo)
        hook.end_session(session.id, wait=True, wait_timeout=15, poll_interval=0.1)
        page.goto(f"{demo}/products")

    context = make_context()
    task = BrowserbasePlaywrightOperator(task_id="t", python_callable=pulled_away)
    with pytest.raises(
        BrowserbaseSessionError, match="ended with status COMPLETED while the task was using it"
    ):
        task.execute(context)


def test_attaching_to_a_keep_alive_session_only_disconnects(
    hook: BrowserbaseHook, demo: str, make_context: Callable[..., dict[str, Any]]
) -> None:
    shared = hook.create_session(keep_alive=True, session_timeout=300)
    try:

        def visit(page, path):  # type: ignore[no-untyped-def]
            page.goto(f"{demo}{path}")
            return page.url

        first = BrowserbasePlaywrightOperator(
            task_id="first", python_callable=visit, op_args=["/products"], session_id=shared.id
        )
        assert first.execute(make_context()).endswith("/products")
        assert hook.get_session(shared.id).status == "RUNNING"

        def where(page):  # type: ignore[no-untyped-def]
            return page.url

        last = BrowserbasePlaywrightOperator(
            task_id="last", python_callable=where, session_id=shared.id, end_attached_session=True
        )
        assert last.execute(make_context()).endswith("/products")  # same browser, same page
        assert ended_status(hook, shared.id) == "COMPLETED"
    finally:
        hook.end_session(shared.id)


def test_attaching_to_an_ended_session_fails_clearly(
    hook: BrowserbaseHook, make_context: Callable[..., dict[str, Any]]
) -> None:
    gone = hook.create_session()
    hook.end_session(gone.id, wait=True, wait_timeout=15, poll_interval=0.1)
    task = BrowserbasePlaywrightOperator(task_id="t", python_callable=print, session_id=gone.id)
    with pytest.raises(BrowserbaseSessionError, match=f"Cannot attach to session {gone.id}: it is COMPLETED"):
        task.execute(make_context())


def test_on_kill_ends_the_session_and_the_task_unwinds(
    hook: BrowserbaseHook, demo: str, make_context: Callable[..., dict[str, Any]]
) -> None:
    started = threading.Event()

    def slow(page):  # type: ignore[no-untyped-def]
        page.goto(demo)
        started.set()
        page.wait_for_timeout(60_000)

    context = make_context()
    task = BrowserbasePlaywrightOperator(task_id="slow", python_callable=slow, keep_alive=True)
    error = execute_and_kill(task, context, started)
    assert isinstance(error, BrowserbaseSessionError)
    assert "killed" in str(error)
    assert ended_status(hook, pushed(context)["session_id"]) == "COMPLETED"


def test_a_killed_task_leaves_none_of_playwrights_files_behind(
    hook: BrowserbaseHook,
    demo: str,
    make_context: Callable[..., dict[str, Any]],
    driver_tmp: Path,
) -> None:
    """
    Playwright's driver keeps a folder per connection and removes it itself when the browser disconnects,
    which a kill (the session ends while the task closes and stops the driver) can outrun: the folder then
    stays on the worker. The task gives the driver a folder of its own and removes it once the driver stopped.
    """

    def killed_task() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        started = threading.Event()

        def work(page):  # type: ignore[no-untyped-def]
            page.goto(demo)
            seen["driver"] = sorted(p.name for p in driver_tmp.iterdir())
            seen["ours"] = private_artifacts_folders()
            started.set()
            page.wait_for_timeout(60_000)

        task = BrowserbasePlaywrightOperator(task_id="killed", python_callable=work)
        seen["error"] = execute_and_kill(task, make_context(), started)
        return seen

    before = private_artifacts_folders()
    for _ in range(3):
        seen = killed_task()
        assert "killed" in str(seen.get("error"))
        assert seen["driver"] == []  # nothing of Playwright's own in the temp folder while connected
        assert len(seen["ours"]) == len(before) + 1
        assert list(driver_tmp.iterdir()) == []
        assert private_artifacts_folders() == before
