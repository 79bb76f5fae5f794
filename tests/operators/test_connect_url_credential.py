"""
The connect URL in XCom is a credential for its session, and only while the session lives.

Against ``browserbase-local`` with real Chromium: the URL the create operator pushes drives the browser
while the session runs, and is refused once the session has ended (the README says so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_browserbase.operators.session import (
    BrowserbaseCreateSessionOperator,
    BrowserbaseEndSessionOperator,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_browserbase.local.server import LocalServer

CONNECT_TIMEOUT_MS = 15_000


def test_the_connect_url_works_while_the_session_runs_and_not_after_it_ended(
    local_server: LocalServer, make_context: Callable[..., dict[str, Any]]
) -> None:
    from playwright.sync_api import Error, sync_playwright

    context = make_context()
    created = BrowserbaseCreateSessionOperator(task_id="create", keep_alive=True, session_timeout=120)
    connect_url = created.execute(context)["connect_url"]
    end = BrowserbaseEndSessionOperator(
        task_id="end", session_id=created.session_id, wait_for_termination=True, wait_timeout=30
    )
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.connect_over_cdp(connect_url, timeout=CONNECT_TIMEOUT_MS)
            page = browser.contexts[0].new_page()
            page.goto(f"{local_server.base_url}/demo/")
            assert page.title() == "Demo shop"
            browser.close()
        finally:
            assert end.execute(make_context()) == "COMPLETED"

        with pytest.raises(Error) as refused:
            playwright.chromium.connect_over_cdp(connect_url, timeout=CONNECT_TIMEOUT_MS)
    # Refused by the server (the key no longer opens anything), not a network failure.
    assert "401 Unauthorized" in str(refused.value)
