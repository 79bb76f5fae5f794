"""Fault injection (``--enable-admin``): scripted errors, slow answers, dropped clients, crashed browsers."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx
import pytest
from local_helpers import browser_pid, client, wait_for_status, wait_gone

if TYPE_CHECKING:
    from playwright.sync_api import Playwright


def test_admin_is_off_unless_enabled(api: httpx.Client) -> None:
    assert api.post("/_admin/faults", json={"path": "/v1/sessions"}).status_code == 404


def test_scripted_errors_then_normal_service(make_server) -> None:
    server = make_server(no_browser=True, enable_admin=True)
    with client(server) as api:
        fault = {
            "path": "/v1/sessions",
            "method": "POST",
            "status": 503,
            "count": 2,
            "headers": {"retry-after": "1"},
        }
        assert api.post("/_admin/faults", json=fault).status_code == 201
        for _ in range(2):
            refused = api.post("/v1/sessions", json={})
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert refused.headers["x-request-id"]
            assert refused.json()["message"] == "Injected fault"
        assert api.get("/v1/sessions").json() == []  # nothing was created by the refused calls
        assert api.post("/v1/sessions", json={}).status_code == 201
        assert api.get("/_admin/faults").json() == []


def test_error_after_the_work_leaves_an_ambiguous_create(make_server) -> None:
    server = make_server(no_browser=True, enable_admin=True)
    with client(server) as api:
        api.post(
            "/_admin/faults", json={"path": "/v1/sessions", "method": "POST", "status": 500, "after": True}
        )
        failed = api.post("/v1/sessions", json={"userMetadata": {"nonce": "n1"}})
        assert failed.status_code == 500
        found = api.get("/v1/sessions", params={"q": "user_metadata['nonce']:'n1'"}).json()
        assert len(found) == 1  # the session exists although the create answered 500


def test_slow_answer_makes_the_client_time_out_after_the_work(make_server) -> None:
    server = make_server(no_browser=True, enable_admin=True)
    with client(server) as api:
        api.post("/_admin/faults", json={"path": "/v1/sessions", "method": "POST", "delay_after": 2})
        with pytest.raises(httpx.ReadTimeout):
            api.post("/v1/sessions", json={"userMetadata": {"nonce": "slow"}}, timeout=0.5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if api.get("/v1/sessions", params={"q": "user_metadata['nonce']:'slow'"}).json():
                break
            time.sleep(0.1)
        assert len(api.get("/v1/sessions").json()) == 1
        api.delete("/_admin/faults")
        api.post("/_admin/faults", json={"path": "/v1/sessions/*", "method": "GET", "status": 429})
        assert api.get("/v1/sessions/anything").status_code == 429
        assert api.get("/v1/sessions").status_code == 200  # the wildcard needs a path segment


@pytest.mark.parametrize(
    "body",
    [{"status": 500}, {"path": 5}, {"path": "/v1/x", "status": 200}, {"path": "/v1/x", "colour": "red"}, []],
)
def test_malformed_faults_are_refused(make_server, body: object) -> None:
    server = make_server(no_browser=True, enable_admin=True)
    with client(server) as api:
        response = api.post("/_admin/faults", json=body)
    assert response.status_code == 400
    assert response.json()["message"]


@pytest.mark.browser
def test_dropped_connections_and_crashed_browser(make_server, pw: Playwright) -> None:
    server = make_server(enable_admin=True)
    with client(server) as api:
        kept = api.post("/v1/sessions", json={"keepAlive": True}).json()
        browser = pw.chromium.connect_over_cdp(kept["connectUrl"])
        page = browser.contexts[0].pages[0]
        assert api.post(f"/_admin/sessions/{kept['id']}/drop-connections").json() == {"dropped": 1}
        with pytest.raises(Exception, match="closed"):
            page.evaluate("1")
        browser.close()
        assert api.get(f"/v1/sessions/{kept['id']}").json()["status"] == "RUNNING"  # keepAlive survives

        again = pw.chromium.connect_over_cdp(kept["connectUrl"])
        pid = browser_pid(server, kept["id"])
        assert api.post(f"/_admin/sessions/{kept['id']}/crash").json() == {"crashed": pid}
        wait_for_status(api, kept["id"], "ERROR")
        wait_gone(pid)
        again.close()
        assert api.post(f"/_admin/sessions/{kept['id']}/crash").status_code == 409
