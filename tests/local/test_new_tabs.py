"""
New tabs on real Chromium, with and without an opener: each loads, Playwright sees it, and the session's
settings are in place before its first script.

A tab opened without an opener (a ``target=_blank`` link, whose default is ``rel=noopener``, or
``window.open(url, "_blank", "noopener")``) starts in a new browsing context group with no renderer; its
first navigation waits for every auto-attached client to let it run, the settings agent included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from local_helpers import client
from settings_session import settings_session

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from playwright.sync_api import Browser, Page, Playwright

    from airflow_provider_browserbase.local.server import LocalServer

pytestmark = pytest.mark.browser

# Neither is Chromium's default, so a tab the agent missed shows 1280 x 720 (or 800 x 600) and "Linux x86_64".
SETTINGS = {"browserSettings": {"viewport": {"width": 1024, "height": 600}, "os": "windows"}}
APPLIED = {"width": 1024, "height": 600, "platform": "Win32"}
# Generous: a new tab on a loaded 2-core machine; the bug made it wait forever.
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def browser(pw: Playwright, server: LocalServer) -> Iterator[Browser]:
    with client(server) as api, settings_session(pw, api, SETTINGS) as (connected, _):
        yield connected


@pytest.fixture
def opener(browser: Browser, server: LocalServer) -> Iterator[Page]:
    page = browser.contexts[0].new_page()
    page.goto(f"{server.base_url}/site/")
    yield page
    for other in browser.contexts[0].pages[1:]:
        other.close()


def _links(url: str) -> str:
    return (
        f'<a id="blank" href="{url}" target="_blank">default (noopener)</a>'
        f'<a id="noopener" href="{url}" target="_blank" rel="noopener">noopener</a>'
        f'<a id="opener" href="{url}" target="_blank" rel="opener">opener</a>'
    )


OPENERS: dict[str, Callable[[Page, str], Any]] = {
    "link target=_blank": lambda page, url: page.click("#blank"),
    "link rel=noopener": lambda page, url: page.click("#noopener"),
    "window.open noopener": lambda page, url: page.evaluate("u => window.open(u, '_blank', 'noopener')", url),
    "link rel=opener": lambda page, url: page.click("#opener"),
    "window.open": lambda page, url: page.evaluate("u => { window.open(u, '_blank') }", url),
}

WITH_OPENER = {"link rel=opener", "window.open"}


@pytest.mark.parametrize("how", list(OPENERS))
def test_new_tab_loads_with_the_settings(opener: Page, server: LocalServer, how: str) -> None:
    url = f"{server.base_url}/site/first-script"
    opener.evaluate("html => { document.body.innerHTML = html }", _links(url))
    with (
        opener.context.expect_page(timeout=WAIT_MS) as page_info,
        opener.expect_popup(timeout=WAIT_MS) as popup,
    ):
        OPENERS[how](opener, url)
    tab = page_info.value
    assert popup.value is tab
    tab.wait_for_load_state(timeout=WAIT_MS)
    assert tab.url == url
    assert tab.text_content("#title") == "New tab"
    seen = tab.evaluate("window.firstScript")
    assert seen["hasOpener"] is (how in WITH_OPENER), how  # the case really is the one it names
    assert {key: seen[key] for key in APPLIED} == APPLIED, how
    assert tab in opener.context.pages
