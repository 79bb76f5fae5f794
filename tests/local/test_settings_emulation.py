"""``viewport`` and ``os`` on real Chromium: every page of the session, and no headless tells."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest
from settings_session import settings_session
from settings_sites import Site

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx
    from playwright.sync_api import Page, Playwright

pytestmark = pytest.mark.browser

FACTS = """() => ({
  width: innerWidth, height: innerHeight, screenWidth: screen.width, screenHeight: screen.height,
  userAgent: navigator.userAgent, platform: navigator.platform, webdriver: navigator.webdriver,
  languages: navigator.languages, touchPoints: navigator.maxTouchPoints,
  hints: navigator.userAgentData && {
    mobile: navigator.userAgentData.mobile, platform: navigator.userAgentData.platform,
    brands: navigator.userAgentData.brands.map(b => b.brand)
  }
})"""


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site() as running:
        yield running


def facts(page: Page) -> dict[str, Any]:
    return page.evaluate(FACTS)


def every_page(browser: Any, site: Site) -> dict[str, dict[str, Any]]:
    """Facts of the first tab, a tab opened later, and a popup, each on a real page."""
    context = browser.contexts[0]
    first = context.pages[0]
    first.goto(site.url("/?title=first"))
    later = context.new_page()
    later.goto(site.url("/?title=later", host="localhost"))
    with first.expect_popup() as popup_info:
        first.evaluate("url => window.open(url)", site.url("/?title=popup"))
    popup = popup_info.value
    popup.wait_for_load_state()
    return {"first": facts(first), "later": facts(later), "popup": facts(popup)}


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, (1280, 720)),  # the documented default, not Chromium's 800 x 600 window
        ({"viewport": {"width": 1024, "height": 600}}, (1024, 600)),
        ({"viewport": {"width": 1920, "height": 1200}}, (1920, 1200)),
    ],
)
def test_every_page_has_the_viewport(
    pw: Playwright, api: httpx.Client, site: Site, settings: dict[str, Any], expected: tuple[int, int]
) -> None:
    with settings_session(pw, api, {"browserSettings": settings}) as (browser, _):
        seen = every_page(browser, site)
    for name, page in seen.items():
        assert (page["width"], page["height"]) == expected, name
        assert page["screenWidth"] >= expected[0], name
        assert page["screenHeight"] >= expected[1], name


def test_no_headless_tells(pw: Playwright, api: httpx.Client, site: Site) -> None:
    with settings_session(pw, api, {}) as (browser, _):
        seen = every_page(browser, site)
        version = browser.version  # the installed Chromium's, e.g. 156.0.8078.108
        page = browser.contexts[0].pages[0]
        page.goto(site.url("/headers"))
        sent = page.inner_text("body")
    major = version.split(".")[0]
    for name, page_facts in seen.items():
        assert "Headless" not in page_facts["userAgent"], name
        assert re.search(rf"Chrome/{major}\.0\.0\.0 Safari/537\.36$", page_facts["userAgent"]), name
        assert page_facts["webdriver"] is False, name
        assert page_facts["languages"] == ["en-US", "en"], name
        assert all("Headless" not in brand for brand in page_facts["hints"]["brands"]), name
    assert "HeadlessChrome" not in sent
    assert f"Chrome/{major}.0.0.0" in sent
    assert "Accept-Language: en-US,en" in sent


OS_CASES = {
    "windows": ("Windows NT 10.0; Win64; x64", "Win32", "Windows", False),
    "mac": ("Macintosh; Intel Mac OS X 10_15_7", "MacIntel", "macOS", False),
    "linux": ("X11; Linux x86_64", "Linux x86_64", "Linux", False),
    "mobile": ("Linux; Android 10; K", "Linux armv81", "Android", True),
    "tablet": ("Linux; Android 10; K", "Linux armv81", "Android", True),
}


@pytest.mark.parametrize("os_name", list(OS_CASES))
def test_os_is_consistent_on_every_page(pw: Playwright, api: httpx.Client, site: Site, os_name: str) -> None:
    ua_part, platform, hints_platform, touch = OS_CASES[os_name]
    with settings_session(pw, api, {"browserSettings": {"os": os_name}}) as (browser, _):
        seen = every_page(browser, site)
        high = (
            browser.contexts[0]
            .pages[0]
            .evaluate("navigator.userAgentData.getHighEntropyValues(['platformVersion', 'model'])")
        )
    for name, page in seen.items():
        assert f"({ua_part})" in page["userAgent"], name
        # Checked after a navigation to another origin (a new renderer process): Chromium alone forgets it.
        assert page["platform"] == platform, name
        assert page["hints"]["platform"] == hints_platform, name
        assert page["hints"]["mobile"] is (os_name == "mobile"), name
        assert (" Mobile Safari/" in page["userAgent"]) is (os_name == "mobile"), name
        assert (page["touchPoints"] > 0) is touch, name
        if touch:  # a device-sized viewport on a page made for phones
            assert page["width"] < 1000, (name, page)
            assert page["height"] > page["width"], (name, page)
            assert (page["screenWidth"], page["screenHeight"]) == (page["width"], page["height"]), name
        else:
            assert (page["width"], page["height"]) == (1280, 720), name
    assert high["platformVersion"], json.dumps(high)


def test_os_with_a_viewport_keeps_the_viewport(pw: Playwright, api: httpx.Client, site: Site) -> None:
    body = {"browserSettings": {"os": "windows", "viewport": {"width": 1366, "height": 768}}}
    with settings_session(pw, api, body) as (browser, _):
        page = browser.contexts[0].pages[0]
        page.goto(site.url())
        seen = facts(page)
    assert (seen["width"], seen["height"], seen["platform"]) == (1366, 768, "Win32")


def test_dialogs_still_close_with_a_non_native_os(pw: Playwright, api: httpx.Client, site: Site) -> None:
    # The os script needs the Page domain on the server's own CDP session; dialogs must still be answered
    # by the client (Playwright dismisses those nobody listens for).
    with settings_session(pw, api, {"browserSettings": {"os": "mac"}}) as (browser, _):
        page = browser.contexts[0].pages[0]
        page.goto(site.url())
        assert page.evaluate("confirm('sure?')") is False
        seen: list[str] = []
        page.on("dialog", lambda dialog: (seen.append(dialog.message), dialog.accept()))
        assert page.evaluate("confirm('again?')") is True
        assert seen == ["again?"]
