"""Every way a session ends, on real Chromium driven through ``connectUrl``."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from typing import TYPE_CHECKING

import pytest
import websockets.exceptions
import websockets.sync.client
from local_helpers import browser_pid, client, wait_for_status, wait_gone

if TYPE_CHECKING:
    import httpx
    from playwright.sync_api import Playwright

pytestmark = pytest.mark.browser


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_last_client_disconnect_completes_session(api: httpx.Client, pw: Playwright, server) -> None:
    created = api.post("/v1/sessions", json={"timeout": 600}).json()
    assert created["status"] == "RUNNING"
    pid = browser_pid(server, created["id"])
    browser = pw.chromium.connect_over_cdp(created["connectUrl"])
    page = browser.contexts[0].pages[0]
    page.goto(f"{server.base_url}/site/")
    assert page.title() == "Test site"
    assert api.get(f"/v1/sessions/{created['id']}").json()["status"] == "RUNNING"
    browser.close()

    ended = wait_for_status(api, created["id"], "COMPLETED")
    assert ended["endedAt"] is not None
    assert ended["updatedAt"] == ended["endedAt"]
    assert parse(ended["startedAt"]) <= parse(ended["endedAt"]) < parse(ended["expiresAt"])
    wait_gone(pid)


def test_keep_alive_survives_reconnect_until_released(api: httpx.Client, pw: Playwright, server) -> None:
    created = api.post("/v1/sessions", json={"keepAlive": True, "timeout": 600}).json()
    assert created["keepAlive"] is True
    pid = browser_pid(server, created["id"])

    first = pw.chromium.connect_over_cdp(created["connectUrl"])
    first.contexts[0].pages[0].goto(f"{server.base_url}/site/#kept")
    first.close()
    time.sleep(0.5)
    assert api.get(f"/v1/sessions/{created['id']}").json()["status"] == "RUNNING"

    again = pw.chromium.connect_over_cdp(created["connectUrl"])
    assert again.contexts[0].pages[0].url.endswith("/site/#kept")
    again.close()
    time.sleep(0.5)
    assert api.get(f"/v1/sessions/{created['id']}").json()["status"] == "RUNNING"

    released = api.post(f"/v1/sessions/{created['id']}", json={"status": "REQUEST_RELEASE"})
    assert released.status_code == 200
    ended = wait_for_status(api, created["id"], "COMPLETED")
    wait_gone(pid)

    # Release is idempotent: a second one answers 200 with the session unchanged.
    repeat = api.post(f"/v1/sessions/{created['id']}", json={"status": "REQUEST_RELEASE"})
    assert repeat.status_code == 200
    assert repeat.json()["status"] == "COMPLETED"
    assert repeat.json()["endedAt"] == ended["endedAt"]
    assert repeat.json()["updatedAt"] == ended["updatedAt"]


def test_timeout_ends_session_timed_out(make_server, pw: Playwright) -> None:
    # timeout_scale shrinks the 60 s minimum lifetime to 12 s (long enough to connect on a loaded machine);
    # expiresAt reports the real (scaled) end.
    server = make_server(timeout_scale=0.2)
    with client(server) as api:
        created = api.post("/v1/sessions", json={"timeout": 60}).json()
        lifetime = parse(created["expiresAt"]) - parse(created["startedAt"])
        assert lifetime == dt.timedelta(seconds=12)
        pid = browser_pid(server, created["id"])
        browser = pw.chromium.connect_over_cdp(created["connectUrl"])
        page = browser.contexts[0].pages[0]
        ended = wait_for_status(api, created["id"], "TIMED_OUT", timeout=40)
        assert parse(ended["endedAt"]) >= parse(ended["expiresAt"])
        wait_gone(pid)
        # The client's connection is closed with the session, as on Browserbase.
        with pytest.raises(Exception, match="closed"):
            page.evaluate("1 + 1")
        browser.close()


def test_browser_crash_ends_session_error(api: httpx.Client, server) -> None:
    created = api.post("/v1/sessions", json={"keepAlive": True}).json()
    pid = browser_pid(server, created["id"])
    os.killpg(pid, signal.SIGKILL)
    ended = wait_for_status(api, created["id"], "ERROR")
    assert ended["endedAt"] is not None
    wait_gone(pid)


def test_session_nobody_connects_to_ends_at_connect_deadline(make_server) -> None:
    server = make_server(connect_deadline=4.0)
    with client(server) as api:
        created = api.post("/v1/sessions", json={"keepAlive": True}).json()
        pid = browser_pid(server, created["id"])
        time.sleep(0.3)
        assert api.get(f"/v1/sessions/{created['id']}").json()["status"] == "RUNNING"
        wait_for_status(api, created["id"], "COMPLETED", timeout=20)
        wait_gone(pid)


def _ws_status(url: str) -> int:
    try:
        with websockets.sync.client.connect(url, open_timeout=10):
            return 101
    except websockets.exceptions.InvalidStatus as exc:
        return exc.response.status_code


def test_wrong_or_stale_signing_key_is_refused_401(api: httpx.Client, pw: Playwright, server) -> None:
    created = api.post("/v1/sessions", json={"keepAlive": True}).json()
    base = f"ws://127.0.0.1:{server.config.port}/"
    assert _ws_status(f"{base}?signingKey=not-the-key") == 401
    assert _ws_status(base) == 401
    assert _ws_status(f"{base}?apiKey=wrong&sessionId={created['id']}") == 401
    with pytest.raises(Exception, match="401"):
        pw.chromium.connect_over_cdp(f"{base}?signingKey={created['signingKey']}x")

    # The legacy form with the API key and session id works (keepAlive keeps the session afterwards).
    assert _ws_status(f"{base}?apiKey={server.api_key}&sessionId={created['id']}") == 101
    api.post(f"/v1/sessions/{created['id']}", json={"status": "REQUEST_RELEASE"})
    wait_for_status(api, created["id"], "COMPLETED")
    assert _ws_status(created["connectUrl"]) == 401


def test_concurrency_limit_answers_429_with_headers(make_server) -> None:
    server = make_server(max_sessions=2, no_browser=True)
    with client(server) as api:
        first = api.post("/v1/sessions", json={"timeout": 120}).json()
        api.post("/v1/sessions", json={})
        refused = api.post("/v1/sessions", json={})
        assert refused.status_code == 429
        assert refused.json()["statusCode"] == 429
        assert "max concurrent sessions" in refused.json()["message"]
        headers = refused.headers
        assert headers["x-ratelimit-limit"] == "2"
        assert headers["x-ratelimit-remaining"] == "0"
        assert 1 <= int(headers["x-ratelimit-reset"]) <= 120
        assert headers["retry-after"] == headers["x-ratelimit-reset"]
        assert headers["x-should-retry"] == "false"
        assert len(api.get("/v1/sessions").json()) == 2  # the refused create made nothing

        api.post(f"/v1/sessions/{first['id']}", json={"status": "REQUEST_RELEASE"})
        assert api.post("/v1/sessions", json={}).status_code == 201


def test_creation_rate_limit_answers_429_with_retry_after(make_server) -> None:
    server = make_server(max_sessions=10, no_browser=True, creations_per_minute=2)
    with client(server) as api:
        for _ in range(2):
            created = api.post("/v1/sessions", json={}).json()
            api.post(f"/v1/sessions/{created['id']}", json={"status": "REQUEST_RELEASE"})
        refused = api.post("/v1/sessions", json={})
        assert refused.status_code == 429
        assert refused.headers["x-ratelimit-limit"] == "2"
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "rate limit" in refused.json()["message"]


def test_no_browser_sessions_follow_the_same_lifecycle(make_server) -> None:
    server = make_server(no_browser=True, timeout_scale=0.1)  # 6 s lifetimes
    with client(server) as api:
        created = api.post("/v1/sessions", json={"timeout": 60}).json()
        assert created["connectUrl"].startswith("ws://")
        with websockets.sync.client.connect(created["connectUrl"]) as ws:
            ws.send('{"id": 1, "method": "Browser.getVersion"}')
            assert "no-browser" in ws.recv(timeout=5)
        wait_for_status(api, created["id"], "COMPLETED")
        timed = api.post("/v1/sessions", json={"timeout": 60, "keepAlive": True}).json()
        wait_for_status(api, timed["id"], "TIMED_OUT")
        # Ended sessions with nothing downloaded leave no folder behind, even on a long run.
        registry = server.app.state.registry
        folders = [registry.sessions[s["id"]].directory for s in (created, timed)]
        deadline = time.monotonic() + 10
        while any(f.exists() for f in folders) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(f.exists() for f in folders)


def test_data_folders_of_killed_servers_are_swept(tmp_path, monkeypatch) -> None:
    import subprocess

    from airflow_provider_browserbase.local.config import make_own_data_dir, sweep_orphaned_data_dirs

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = tmp_path / "browserbase-local-orphan"
    (orphan / "bb-x" / "downloads").mkdir(parents=True)
    (orphan / "server.pid").write_text(str(dead.pid))
    being_made = tmp_path / "browserbase-local-no-pid-yet"
    being_made.mkdir()
    ours = make_own_data_dir()  # sweeps first
    assert not orphan.exists()
    assert being_made.exists()
    assert (ours / "server.pid").read_text() == str(os.getpid())
    assert sweep_orphaned_data_dirs() == 0  # a live server's folder is never swept
    assert ours.exists()


def test_idle_cdp_client_is_disconnected(make_server, pw: Playwright) -> None:
    # Browserbase closes a CDP connection after 10 minutes without a command; here after 5 s.
    server = make_server(cdp_idle_timeout=5)
    with client(server) as api:
        kept = api.post("/v1/sessions", json={"keepAlive": True}).json()
        plain = api.post("/v1/sessions", json={}).json()
        kept_browser = pw.chromium.connect_over_cdp(kept["connectUrl"])
        kept_page = kept_browser.contexts[0].pages[0]
        plain_browser = pw.chromium.connect_over_cdp(plain["connectUrl"])
        page = plain_browser.contexts[0].pages[0]
        for _ in range(4):  # commands keep the connection open past the idle limit
            page.evaluate("1")
            time.sleep(1.5)
        wait_for_status(api, plain["id"], "COMPLETED", timeout=30)
        with pytest.raises(Exception, match="closed"):
            kept_page.evaluate("1")
        assert api.get(f"/v1/sessions/{kept['id']}").json()["status"] == "RUNNING"
        kept_browser.close()
        plain_browser.close()
