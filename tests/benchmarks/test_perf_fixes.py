"""The two savings the benchmarks found in ``browserbase-local`` stay in place (issue 17)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx
import pytest

from airflow_provider_browserbase.local.chromium import BrowserProcess, find_chromium, make_session_dir
from airflow_provider_browserbase.local.server import LocalServer
from benchmarks._common import API_KEY

if TYPE_CHECKING:
    from pathlib import Path


def test_cdp_websocket_does_not_negotiate_compression() -> None:
    """A client offering permessage-deflate gets plain frames, as from Chromium's own endpoint."""
    from websockets.sync.client import connect

    server = LocalServer(api_key=API_KEY, no_browser=True, demo=False).start()
    try:
        headers = {"X-BB-API-Key": API_KEY}
        session = httpx.post(f"{server.base_url}/v1/sessions", json={}, headers=headers).json()
        with connect(session["connectUrl"], compression="deflate") as websocket:
            assert websocket.response is not None
            assert "permessage-deflate" not in websocket.response.headers.get("Sec-WebSocket-Extensions", "")
            # Still a working CDP endpoint: a command gets its answer (here: no browser to drive).
            websocket.send('{"id": 1, "method": "Browser.getVersion"}')
            assert '"id":1' in websocket.recv(timeout=30).replace(" ", "")
    finally:
        server.stop()


@pytest.mark.browser
def test_browser_starts_without_omnibox_webui(tmp_path: Path) -> None:
    """Headless Chromium preloads the omnibox popup's WebUI in a renderer of its own unless told not to."""

    async def targets() -> list[dict[str, str]]:
        browser = BrowserProcess(find_chromium(), make_session_dir(tmp_path))
        try:
            await browser.start()
            cdp = await browser.open_cdp()
            # The preload starts with the browser; give it the moment it takes before looking.
            await asyncio.sleep(1.5)
            found = await cdp.send("Target.getTargets")
            await cdp.close()
            return list(found["targetInfos"])
        finally:
            await browser.kill()
            browser.remove_files()

    infos = asyncio.run(targets())
    assert [t["url"] for t in infos if t["type"] == "page"] == ["about:blank"]
    assert not [t["url"] for t in infos if t["url"].startswith("chrome://")], infos
