"""
The person of a live handoff, played by a test: signs in to the demo shop's two-step login through the
session's live view, in an ordinary Chromium, with the mouse and keyboard only.

The test reads two things from the session's own pages, over a CDP connection of its own, where a person
would use their eyes: where a field is drawn (to aim the click in the viewer) and the one-time code that the
viewer shows on the codes tab (a test cannot read a screencast frame). Everything that changes the page
goes through the viewer.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from airflow_provider_browserbase.local.demo_site import DEMO_PASSWORD, DEMO_USERNAME

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser, Page


def viewer_point(viewer: Page, session_page: Page, selector: str) -> tuple[float, float]:
    """Where the centre of ``selector`` on the session's page is drawn in the viewer's window."""
    target = session_page.locator(selector).bounding_box()
    screen = viewer.locator("#screen").bounding_box()
    assert target is not None, f"{selector} is not on the session's page {session_page.url}"
    assert screen is not None
    width, height = session_page.evaluate("[innerWidth, innerHeight]")
    x = screen["x"] + (target["x"] + target["width"] / 2) * screen["width"] / width
    y = screen["y"] + (target["y"] + target["height"] / 2) * screen["height"] / height
    return x, y


def _show_tab(viewer: Page, title: str) -> None:
    """Click the viewer's tab for the page titled ``title``; wait until a frame of it is drawn."""
    from playwright.sync_api import expect

    screen = viewer.locator("#screen")
    before = screen.get_attribute("src")
    tab = viewer.locator("#tabs button", has_text=title)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true", timeout=20000)
    changed = "before => document.getElementById('screen').getAttribute('src') !== before"
    viewer.wait_for_function(changed, arg=before, timeout=20000)


def sign_in_through_the_live_view(
    browser: Browser, live_url: str, connect_url: str, screenshot: Path | None = None
) -> str:
    """
    Sign in as a person would, in a new tab of ``browser`` opened at ``live_url``; returns the code used.

    :param browser: an ordinary Chromium (not a session's).
    :param live_url: the live view's URL (``debuggerFullscreenUrl``, or the task's link).
    :param connect_url: the session's CDP URL, for the test's eyes only.
    :param screenshot: where to save the viewer with the code page shown, if given.
    """
    from playwright.sync_api import expect

    session_browser = browser.browser_type.connect_over_cdp(connect_url)
    viewer = browser.new_context(viewport={"width": 1100, "height": 760}).new_page()
    try:
        session_context = session_browser.contexts[0]
        login = next(p for p in session_context.pages if "/login-2fa" in p.url)
        viewer.goto(live_url)
        expect(viewer.locator("#screen")).to_have_attribute(
            "src", re.compile(r"^data:image/jpeg;base64,"), timeout=30000
        )

        viewer.mouse.click(*viewer_point(viewer, login, "input[name=username]"))
        viewer.keyboard.type(DEMO_USERNAME)
        viewer.mouse.click(*viewer_point(viewer, login, "input[name=password]"))
        viewer.keyboard.type(DEMO_PASSWORD)
        viewer.keyboard.press("Enter")
        login.wait_for_url(re.compile(r"/verify$"), timeout=30000)

        # The code is on another page of the site, opened in a new tab: the viewer's tab strip shows it.
        with session_context.expect_page(timeout=30000) as opened:
            viewer.mouse.click(*viewer_point(viewer, login, "#codes-link"))
        codes = opened.value
        codes.wait_for_load_state()
        _show_tab(viewer, "Security codes")
        if screenshot is not None:
            viewer.screenshot(path=screenshot)
        code = codes.locator("#one-time-code").inner_text()

        _show_tab(viewer, "Enter your code")
        viewer.mouse.click(*viewer_point(viewer, login, "#code"))
        viewer.keyboard.type(code)
        viewer.keyboard.press("Enter")
        login.wait_for_url(re.compile(r"/account$"), timeout=30000)
        return code
    finally:
        viewer.context.close()
        session_browser.close()
