"""Open a session with given settings and a Playwright connection to it; release it afterwards."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from local_helpers import wait_for_status

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx
    from playwright.sync_api import Browser, Playwright


@contextlib.contextmanager
def settings_session(
    pw: Playwright, api: httpx.Client, body: dict[str, Any]
) -> Iterator[tuple[Browser, dict[str, Any]]]:
    response = api.post("/v1/sessions", json={"timeout": 600, **body})
    assert response.status_code == 201, response.text
    created = response.json()
    browser = pw.chromium.connect_over_cdp(created["connectUrl"])
    try:
        yield browser, created
    finally:
        browser.close()
        api.post(f"/v1/sessions/{created['id']}", json={"status": "REQUEST_RELEASE"})
        wait_for_status(api, created["id"], "COMPLETED")
