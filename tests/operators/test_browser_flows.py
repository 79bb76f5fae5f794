"""Whole flows on ``browserbase-local`` with real Chromium: a saved login, and downloaded files."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.local.demo_site.data import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    REPORT_CSV,
    REPORT_FILENAME,
)
from airflow_provider_browserbase.operators.context import (
    BrowserbaseCreateContextOperator,
    BrowserbaseDeleteContextOperator,
)
from airflow_provider_browserbase.operators.downloads import BrowserbaseDownloadsOperator
from airflow_provider_browserbase.operators.playwright import BrowserbasePlaywrightOperator
from airflow_provider_browserbase.sensors.session import BrowserbaseSessionSensor

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from airflow_provider_browserbase.local.server import LocalServer


def pushed(context: dict[str, Any]) -> dict[str, Any]:
    return {call.kwargs["key"]: call.kwargs["value"] for call in context["ti"].xcom_push.call_args_list}


@pytest.fixture
def demo(local_server: LocalServer) -> str:
    return f"{local_server.base_url}/demo"


def test_a_login_saved_in_a_context_carries_over_to_the_next_session(
    demo: str, make_context: Callable[..., dict[str, Any]]
) -> None:
    def log_in(page, url):  # type: ignore[no-untyped-def]
        page.goto(f"{url}/login")
        page.fill("input[name=username]", DEMO_USERNAME)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/account$"))
        return page.inner_text("#signed-in-as")

    def read_account(page, url):  # type: ignore[no-untyped-def]
        page.goto(f"{url}/account")
        page.wait_for_function("document.getElementById('remembered')?.textContent !== ''")
        return {
            "url": page.url,
            "who": page.inner_text("#signed-in-as"),
            "remembered": page.inner_text("#remembered"),
        }

    context_id = BrowserbaseCreateContextOperator(task_id="create_context", name="demo-login").execute(
        make_context()
    )
    try:
        login_context = make_context(task_id="log_in")
        login = BrowserbasePlaywrightOperator(
            task_id="log_in",
            python_callable=log_in,
            op_args=[demo],
            context_id=context_id,
            persist_context=True,
        )
        assert login.execute(login_context) == f"Signed in as {DEMO_USERNAME}"

        # The context is saved when the login session ends; wait for that before reusing it.
        BrowserbaseSessionSensor(
            task_id="wait_saved",
            session_id=pushed(login_context)["session_id"],
            poke_interval=0.2,
            timeout=60,
            mode="poke",
        ).execute({})

        read = BrowserbasePlaywrightOperator(
            task_id="read_account", python_callable=read_account, op_args=[demo], context_id=context_id
        )
        assert read.execute(make_context(task_id="read_account")) == {
            "url": f"{demo}/account",
            "who": f"Signed in as {DEMO_USERNAME}",
            "remembered": DEMO_USERNAME,
        }
    finally:
        BrowserbaseDeleteContextOperator(task_id="delete_context", context_id=context_id).execute(
            make_context()
        )


def download_report(page, browser, url):  # type: ignore[no-untyped-def]
    """Download the demo report the way Browserbase documents it (CDP download behaviour)."""
    cdp = browser.new_browser_cdp_session()
    finished: list[str] = []
    cdp.on("Browser.downloadProgress", lambda event: finished.append(event["state"]))
    cdp.send(
        "Browser.setDownloadBehavior",
        {"behavior": "allow", "downloadPath": "downloads", "eventsEnabled": True},
    )
    page.goto(f"{url}/download")
    page.click("#report")
    deadline = time.monotonic() + 30
    while "completed" not in finished and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    return finished[-1] if finished else "no download event"


@pytest.mark.parametrize("as_url", [False, True], ids=["local-folder", "object-storage-url"])
def test_downloads_land_in_the_destination(
    demo: str, tmp_path: Path, make_context: Callable[..., dict[str, Any]], as_url: bool
) -> None:
    context = make_context(task_id="fetch_report")
    fetch = BrowserbasePlaywrightOperator(
        task_id="fetch_report", python_callable=download_report, op_args=[demo]
    )
    assert fetch.execute(context) == "completed"
    session_id = pushed(context)["session_id"]

    folder = tmp_path / "reports" / "2026-11"
    destination = f"file://{folder}" if as_url else str(folder)
    save = BrowserbaseDownloadsOperator(
        task_id="save", session_id=session_id, destination=destination, timeout=30, poll_interval=0.5
    )
    written = save.execute(make_context())

    stem, suffix = REPORT_FILENAME.rsplit(".", 1)
    assert len(written) == 1
    (path,) = list(folder.iterdir())
    assert re.fullmatch(rf"{stem}-\d{{13}}\.{suffix}", path.name)
    assert written[0].endswith(path.name)
    assert path.read_bytes() == (REPORT_CSV if isinstance(REPORT_CSV, bytes) else REPORT_CSV.encode())
    with BrowserbaseHook() as hook:
        assert hook.get_session(session_id).is_terminal
