"""
Chromium has no debugging port, clients sharing its pipe cannot reach each other's sessions, and one
that stops reading is cut off alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import websockets.sync.client
from browser_helpers import answer, cdp, new_session, not_reading_client, release
from websockets.exceptions import ConnectionClosed

if TYPE_CHECKING:
    import httpx

    from airflow_provider_browserbase.local.server import LocalServer

pytestmark = pytest.mark.browser
pytest_plugins = ["browser_helpers"]

LISTEN = "0A"


def _group_pids(leader: int) -> list[int]:
    """Every process in the browser's process group (renderers, GPU, network service ...)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == leader:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        for fd in fd_dir.iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    except OSError:
        pass
    return inodes


def _listening_tcp_inodes() -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN:
                inodes.add(fields[9])
    return inodes


def test_the_session_browser_listens_on_no_tcp_port(
    browser_api: httpx.Client, browser_server: LocalServer
) -> None:
    created = new_session(browser_api)
    try:
        browser = browser_server.app.state.registry.sessions[created["id"]].browser
        cmdline = Path(f"/proc/{browser.pid}/cmdline").read_bytes().split(b"\0")
        assert b"--remote-debugging-pipe" in cmdline
        assert not [arg for arg in cmdline if arg.startswith(b"--remote-debugging-port")]
        pids = _group_pids(browser.pid)
        assert len(pids) > 2, pids  # the browser and its helpers: the check below looks at all of them
        owned = set().union(*(_socket_inodes(pid) for pid in pids))
        assert owned, "Chromium's helpers talk over sockets; finding none means the check looked nowhere"
        assert owned & _listening_tcp_inodes() == set()
        # ...while the same check does see the server's own listening socket.
        assert _socket_inodes(os.getpid()) & _listening_tcp_inodes()
    finally:
        release(browser_api, created["id"])


def test_a_client_cannot_use_another_clients_session(browser_api: httpx.Client) -> None:
    created = new_session(browser_api)
    try:
        with (
            websockets.sync.client.connect(created["connectUrl"], max_size=None) as first,
            websockets.sync.client.connect(created["connectUrl"], max_size=None) as second,
        ):
            targets = cdp(first, 1, "Target.getTargets")["result"]["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            attached = cdp(first, 2, "Target.attachToTarget", targetId=page["targetId"], flatten=True)
            own = attached["result"]["sessionId"]
            assert "sessionId" not in attached  # the browser-level session the proxy added is stripped

            value = cdp(first, 3, "Runtime.evaluate", expression="6 * 7", sessionId=own)
            assert value["result"]["result"]["value"] == 42
            assert value["sessionId"] == own

            stolen = cdp(second, 3, "Runtime.evaluate", expression="6 * 7", sessionId=own)
            assert "result" not in stolen
            assert "is not yours" in stolen["error"]["message"]
            # Naming it in the params of the old, non-flat commands is refused the same way.
            second.send(
                json.dumps({"id": 5, "method": "Target.detachFromTarget", "params": {"sessionId": own}})
            )
            assert "is not yours" in answer(second, 5)["error"]["message"]
            # The first client's session still works: nothing of it was touched.
            again = cdp(first, 6, "Runtime.evaluate", expression="1 + 1", sessionId=own)
            assert again["result"]["result"]["value"] == 2
    finally:
        release(browser_api, created["id"])


def test_a_disconnected_clients_browser_session_is_detached(
    browser_api: httpx.Client, browser_server: LocalServer
) -> None:
    created = new_session(browser_api)
    try:
        mux = browser_server.app.state.registry.sessions[created["id"]].browser.mux
        before = set(mux.owners)
        with websockets.sync.client.connect(created["connectUrl"], max_size=None) as client:
            assert cdp(client, 1, "Browser.getVersion")["result"]["product"]
            assert len(set(mux.owners) - before) == 1
        deadline = time.monotonic() + 10
        while set(mux.owners) != before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert set(mux.owners) == before
    finally:
        release(browser_api, created["id"])


def test_a_client_that_stops_reading_is_closed_and_the_others_go_on(
    browser_api: httpx.Client,
    browser_server: LocalServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    backlog = 256 * 2**10
    # Read by each new CDP connection, so only this test's clients get the small backlog.
    small = dataclasses.replace(browser_server.config.limits, max_cdp_backlog=backlog)
    monkeypatch.setattr(browser_server.config, "limits", small)
    created = new_session(browser_api)
    calls = 40
    try:
        with (
            websockets.sync.client.connect(created["connectUrl"], max_size=None) as reader,
            not_reading_client(created["connectUrl"]) as stalled,
        ):
            targets = cdp(stalled, 1, "Target.getTargets")["result"]["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            own = cdp(stalled, 2, "Target.attachToTarget", targetId=page["targetId"], flatten=True)
            for call_id in range(10, 10 + calls):  # 512 KiB answers it never reads
                expression = "'x'.repeat(512 * 1024)"
                message = {"id": call_id, "method": "Runtime.evaluate", "params": {"expression": expression}}
                stalled.send(json.dumps({**message, "sessionId": own["result"]["sessionId"]}))
            deadline = time.monotonic() + 60
            while "stopped reading" not in caplog.text:
                assert time.monotonic() < deadline, "the stalled client was never cut off"
                time.sleep(0.05)
            # It reads again: what was written before comes, then the close with its reason.
            answers = []
            with pytest.raises(ConnectionClosed) as closed:
                answers.extend(iter(lambda: stalled.recv(timeout=30), None))
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1008
            assert "--max-cdp-backlog" in closed.value.rcvd.reason
            assert len(answers) < calls
            # The other client of the same browser was not touched.
            assert cdp(reader, 1, "Browser.getVersion")["result"]["product"]
            targets = cdp(reader, 2, "Target.getTargets")["result"]["targetInfos"]
            assert any(t["targetId"] == page["targetId"] for t in targets)
        warnings = [r for r in caplog.records if "stopped reading" in r.getMessage()]
        assert len(warnings) == 1  # once, not for every message dropped
        assert created["id"] in warnings[0].getMessage()
        assert created["signingKey"] not in caplog.text
        status = browser_api.get(f"/v1/sessions/{created['id']}").json()["status"]
        assert status == "RUNNING"
    finally:
        release(browser_api, created["id"])
