"""
``debuggerUrl`` as a developer uses it: an ordinary Chromium opens it (Chromium's own DevTools frontend,
``devtools://devtools/bundled/inspector.html``, on the session's page socket), the frontend shows the
session's page in its Elements panel, and an expression its console evaluates changes that page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Playwright

    from airflow_provider_browserbase.local.server import LocalServer

pytestmark = pytest.mark.browser

# The marker attribute is set by a script, so its value appears in the Elements panel but not in the URL.
MARKED_PAGE = (
    "data:text/html,<title>inspected</title><p id=marker>hello</p>"
    "<script>marker.dataset.k = 'seen' + '-by-' + 'devtools'</script>"
)
# Runs in the frontend's own window: its SDK evaluates in the page it inspects, over its own socket.
EVALUATE_THROUGH_FRONTEND = """async (expression) => {
  const SDK = await import('devtools://devtools/bundled/core/sdk/sdk.js');
  const target = SDK.TargetManager.TargetManager.instance().primaryPageTarget();
  const answer = await target.runtimeAgent().invoke_evaluate({expression, returnByValue: true});
  return answer.result ? answer.result.value : JSON.stringify(answer);
}"""


def test_a_developer_inspects_and_changes_the_page_through_debugger_url(
    pw: Playwright, server: LocalServer
) -> None:
    from browserbase import Browserbase

    with Browserbase(api_key=server.api_key, base_url=server.base_url, max_retries=0) as sdk:
        session = sdk.sessions.create(project_id="devtools-test")
        session_browser = pw.chromium.connect_over_cdp(session.connect_url or "")
        developer_browser = pw.chromium.launch(executable_path=server.app.state.registry.executable)
        try:
            page = session_browser.contexts[0].pages[0]
            page.goto(MARKED_PAGE)
            live = sdk.sessions.debug(session.id)
            target_id = live.pages[0].id
            assert live.debugger_url == live.pages[0].debugger_url
            assert live.debugger_url.startswith("devtools://devtools/bundled/inspector.html?ws=")
            # The frontend reads ws decoded: host, path and the socket's own ?token= kept whole.
            (inner,) = parse_qs(urlsplit(live.debugger_url).query)["ws"]
            assert inner.startswith(
                f"{server.config.netloc}/sessions/{session.id}/devtools/page/{target_id}?"
            )
            assert "token=" in inner
            # The person's viewer stays at debuggerFullscreenUrl.
            assert "/live?" in live.debugger_fullscreen_url

            frontend = developer_browser.new_page()
            frontend.goto(live.debugger_url)
            # The Elements panel shows the inspected page's DOM (read through our socket).
            frontend.get_by_text("seen-by-devtools").first.wait_for(timeout=30000)

            title = frontend.evaluate(EVALUATE_THROUGH_FRONTEND, "document.title")
            assert title == "inspected"
            frontend.evaluate(
                EVALUATE_THROUGH_FRONTEND, "document.getElementById('marker').textContent = 'changed'"
            )
            page.wait_for_function(
                "document.getElementById('marker').textContent === 'changed'", timeout=10000
            )
        finally:
            developer_browser.close()
            session_browser.close()
            sdk.sessions.update(session.id, status="REQUEST_RELEASE", project_id="devtools-test")
