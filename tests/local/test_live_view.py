"""
The live view as a person uses it: an ordinary Chromium opens ``debuggerFullscreenUrl``, got through
Browserbase's own SDK (``sessions.debug``), and drives the session's page with mouse, keyboard, wheel and
paste, before and after the viewer's window is resized.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import pytest
from settings_sites import Site

if TYPE_CHECKING:
    from playwright.sync_api import Page, Playwright

    from airflow_provider_browserbase.local.server import LocalServer

pytestmark = pytest.mark.browser

# A counter button in the upper left, a text field lower right, and a page tall enough to scroll.
COUNTER_PAGE = (
    "data:text/html,<title>counter</title><body style='margin:0;height:3000px'>"
    "<button id=count style='position:absolute;left:40px;top:40px;width:160px;height:80px' "
    "onclick='this.dataset.n=(+this.dataset.n||0)+1;this.textContent=this.dataset.n'>0</button>"
    "<input id=field style='position:absolute;left:700px;top:500px;width:300px;height:50px'>"
)


def _viewer_point(viewer: Page, session_page: Page, selector: str) -> tuple[float, float]:
    """Where the centre of ``selector`` on the session's page is drawn in the viewer's window."""
    target = session_page.locator(selector).bounding_box()
    screen = viewer.locator("#screen").bounding_box()
    assert target is not None
    assert screen is not None
    width, height = session_page.evaluate("[innerWidth, innerHeight]")
    centre_x = target["x"] + target["width"] / 2
    centre_y = target["y"] + target["height"] / 2
    scale_x, scale_y = screen["width"] / width, screen["height"] / height
    return screen["x"] + centre_x * scale_x, screen["y"] + centre_y * scale_y


def _fills_the_window(viewer: Page, session_page: Page) -> dict[str, Any]:
    """The screen's box, asserting it keeps the page's aspect and fills the window in one direction."""
    box = viewer.locator("#screen").bounding_box()
    assert box is not None
    window = viewer.viewport_size
    assert window is not None
    width, height = session_page.evaluate("[innerWidth, innerHeight]")
    assert abs(box["width"] / box["height"] - width / height) < 0.02
    # Fitted: as wide or as tall as the window (a pixel of rounding), never larger.
    assert box["width"] <= window["width"] + 1
    assert box["height"] <= window["height"] + 1
    assert window["width"] - box["width"] <= 2 or window["height"] - box["height"] <= 2
    return box


def _wait_for_fit(viewer: Page) -> None:
    viewer.wait_for_function(
        """() => {
          const s = document.getElementById('screen').getBoundingClientRect();
          return Math.abs(s.width - innerWidth) <= 2 || Math.abs(s.height - innerHeight) <= 2;
        }""",
        timeout=10000,
    )


def test_a_person_drives_the_page_through_the_fullscreen_live_view(
    pw: Playwright, server: LocalServer
) -> None:
    from browserbase import Browserbase
    from playwright.sync_api import expect

    with Browserbase(api_key=server.api_key, base_url=server.base_url, max_retries=0) as sdk:
        session = sdk.sessions.create(project_id="live-view-test")
        session_browser = pw.chromium.connect_over_cdp(session.connect_url or "")
        viewer_browser = pw.chromium.launch(executable_path=server.app.state.registry.executable)
        try:
            page = session_browser.contexts[0].pages[0]
            page.goto(COUNTER_PAGE)
            live = sdk.sessions.debug(session.id)

            viewer = viewer_browser.new_page(viewport={"width": 1000, "height": 700})
            viewer.goto(live.debugger_fullscreen_url)
            expect(viewer.locator("#screen")).to_have_attribute(
                "src", re.compile(r"^data:image/jpeg;base64,"), timeout=20000
            )
            # The page alone: no status line, no address bar, no tab strip with one page, nothing else.
            assert viewer.locator("header").count() == 0
            expect(viewer.locator("#bar")).to_be_hidden()
            expect(viewer.locator("#status")).to_be_hidden()
            _wait_for_fit(viewer)
            _fills_the_window(viewer, page)

            viewer.mouse.click(*_viewer_point(viewer, page, "#count"))
            page.wait_for_function("document.getElementById('count').textContent === '1'", timeout=10000)

            viewer.mouse.click(*_viewer_point(viewer, page, "#field"))
            viewer.keyboard.type("code 1234")
            viewer.keyboard.press("Backspace")
            page.wait_for_function("document.getElementById('field').value === 'code 123'", timeout=10000)

            # Paste: the viewer's clipboard text goes into the page's focused field.
            viewer.context.grant_permissions(["clipboard-read", "clipboard-write"])
            viewer.evaluate("navigator.clipboard.writeText('-pasted')")
            viewer.keyboard.press("Control+V")
            page.wait_for_function(
                "document.getElementById('field').value === 'code 123-pasted'", timeout=10000
            )

            # A tall, narrow window: the view is fitted again and clicks still land on the button.
            viewer.set_viewport_size({"width": 420, "height": 900})
            _wait_for_fit(viewer)
            _fills_the_window(viewer, page)
            viewer.mouse.click(*_viewer_point(viewer, page, "#count"))
            page.wait_for_function("document.getElementById('count').textContent === '2'", timeout=10000)
            # ...and a click just right of it (the button is about 50 px wide on screen now) misses it.
            x, y = _viewer_point(viewer, page, "#count")
            viewer.mouse.click(x + 40, y)
            viewer.mouse.click(*_viewer_point(viewer, page, "#field"))
            page.wait_for_function("document.activeElement.id === 'field'", timeout=10000)
            assert page.locator("#count").inner_text() == "2"

            # The wheel scrolls the page.
            viewer.mouse.move(*_viewer_point(viewer, page, "#field"))
            viewer.mouse.wheel(0, 400)
            page.wait_for_function("scrollY > 0", timeout=10000)
        finally:
            viewer_browser.close()
            session_browser.close()
            sdk.sessions.update(session.id, status="REQUEST_RELEASE", project_id="live-view-test")


# The colour of the middle of the picture the viewer shows (RGBA).
MIDDLE_PIXEL = """() => {
  const img = document.getElementById('screen');
  if (!img.naturalWidth) return [0, 0, 0, 0];
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const g = canvas.getContext('2d');
  g.drawImage(img, 0, 0);
  return Array.from(g.getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1).data);
}"""


def _seconds_until_shown(viewer: Page, rgb: tuple[int, int, int], timeout: float = 10.0) -> float | None:
    """How long until the viewer's picture has ``rgb`` in its middle (None: not within ``timeout``)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            pixel = viewer.evaluate(MIDDLE_PIXEL)
        except Exception:  # a frame still decoding: the canvas has no size yet
            pixel = [0, 0, 0, 0]
        if all(abs(pixel[i] - rgb[i]) < 40 for i in range(3)):
            return time.monotonic() - start
        viewer.wait_for_timeout(100)
    return None


def test_a_tab_switched_to_while_it_loads_is_shown(pw: Playwright, server: LocalServer) -> None:
    """
    A screencast started just as its page commits a new document can send the old document's picture and
    then nothing, for good (2 in 8 switches to a loading tab on Chromium 156): the person would look at a
    blank tab. The viewer starts the screencast again when no frame follows a start or a new address, and
    when it has been quiet for a while (the one frame that came may have been the old document's).
    """
    from browserbase import Browserbase
    from playwright.sync_api import expect

    colours = [(0, 200, 0), (0, 0, 220), (220, 0, 0), (220, 220, 0)]
    with Site() as site, Browserbase(api_key=server.api_key, base_url=server.base_url, max_retries=0) as sdk:
        session = sdk.sessions.create(project_id="live-view-test")
        session_browser = pw.chromium.connect_over_cdp(session.connect_url or "")
        viewer_browser = pw.chromium.launch(executable_path=server.app.state.registry.executable)
        try:
            context = session_browser.contexts[0]
            context.pages[0].goto(site.url("/colour?rgb=255,255,255"))
            viewer = viewer_browser.new_page(viewport={"width": 800, "height": 600})
            viewer.goto(sdk.sessions.debug(session.id).debugger_fullscreen_url)
            assert _seconds_until_shown(viewer, (255, 255, 255), timeout=20) is not None
            shown = []
            for attempt in range(16):
                rgb = colours[attempt % len(colours)]
                tab = context.new_page()
                expect(viewer.locator("#tabs button")).to_have_count(2, timeout=10000)
                # The tab's load begins, and the person switches to it while it commits.
                tab.evaluate(f"location.href = {site.url('/colour?rgb=' + ','.join(map(str, rgb)))!r}")
                viewer.locator("#tabs button").nth(1).click()
                shown.append(_seconds_until_shown(viewer, rgb))
                viewer.locator("#tabs button").nth(0).click()
                tab.close()
                expect(viewer.locator("#tabs button")).to_have_count(0, timeout=10000)
            assert None not in shown, shown
        finally:
            viewer_browser.close()
            session_browser.close()
            sdk.sessions.update(session.id, status="REQUEST_RELEASE", project_id="live-view-test")
