"""
Counts: contexts and extensions per project answer 429 past their limit; ended sessions drop their logs
and downloads after the retention time, and only so many ended sessions are remembered at all.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import websockets.sync.client
from net_helpers import SMALL_LIMITS, client, create_session, extension_zip

from airflow_provider_browserbase.local import state
from airflow_provider_browserbase.local.config import ServerLimits

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx
    import pytest

    from airflow_provider_browserbase.local.server import LocalServer

EMPTY_ZIP_SIZE = 22


def release(api: httpx.Client, session_id: str) -> None:
    assert api.post(f"/v1/sessions/{session_id}", json={"status": "REQUEST_RELEASE"}).status_code == 200


def test_contexts_past_the_limit_answer_429(api: httpx.Client) -> None:
    made = []
    try:
        for _ in range(SMALL_LIMITS.max_contexts):
            created = api.post("/v1/contexts", json={})
            assert created.status_code == 201
            made.append(created.json()["id"])
        refused = api.post("/v1/contexts", json={})
        assert refused.status_code == 429
        assert "--max-contexts" in refused.json()["message"]
        assert refused.headers["x-should-retry"] == "false"
        assert api.delete(f"/v1/contexts/{made.pop()}").status_code == 204
        created = api.post("/v1/contexts", json={})  # a slot freed
        assert created.status_code == 201
        made.append(created.json()["id"])
    finally:
        for context_id in made:
            api.delete(f"/v1/contexts/{context_id}")


def test_extensions_past_the_limit_answer_429(api: httpx.Client, small: LocalServer) -> None:
    archive = extension_zip([("background.js", b"// nothing")])
    made = []
    try:
        for _ in range(SMALL_LIMITS.max_extensions):
            uploaded = api.post("/v1/extensions", files={"file": ("ext.zip", archive)})
            assert uploaded.status_code == 200
            made.append(uploaded.json()["id"])
        refused = api.post("/v1/extensions", files={"file": ("ext.zip", archive)})
        assert refused.status_code == 429
        assert "--max-extensions" in refused.json()["message"]
        assert sorted(p.name for p in (small.data_dir / "extensions").iterdir()) == sorted(made)
    finally:
        for extension_id in made:
            api.delete(f"/v1/extensions/{extension_id}")


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_ended_sessions_drop_logs_and_downloads_after_the_retention(
    make_server: Callable[..., LocalServer],
) -> None:
    retention = 5.0  # the checks within it need a few requests, which a loaded machine slows
    server = make_server(limits=ServerLimits(ended_retention=retention))
    with client(server) as api:
        session = create_session(api)
        assert server.app is not None
        folder = server.app.state.registry.sessions[session["id"]].directory
        (folder / "downloads" / "report.txt").write_text("numbers")
        with websockets.sync.client.connect(session["connectUrl"]) as cdp:
            cdp.send('{"id": 1, "method": "Browser.getVersion"}')
            cdp.recv(timeout=10)
        ended_at = time.monotonic()
        wait_until(lambda: api.get(f"/v1/sessions/{session['id']}").json()["status"] == "COMPLETED")
        # Within the retention: both still served.
        assert api.get(f"/v1/sessions/{session['id']}/logs").json() != []
        assert len(api.get(f"/v1/sessions/{session['id']}/downloads").content) > EMPTY_ZIP_SIZE
        wait_until(lambda: not folder.exists())
        assert time.monotonic() - ended_at >= retention * 0.8
        assert api.get(f"/v1/sessions/{session['id']}/logs").json() == []
        assert len(api.get(f"/v1/sessions/{session['id']}/downloads").content) == EMPTY_ZIP_SIZE
        # The record itself stays (a sensor may still ask for the status).
        assert api.get(f"/v1/sessions/{session['id']}").json()["status"] == "COMPLETED"


def test_only_so_many_ended_sessions_are_remembered(make_server: Callable[..., LocalServer]) -> None:
    keep = 3
    server = make_server(limits=ServerLimits(max_ended_sessions=keep), max_sessions=2)
    with client(server) as api:
        ids = []
        for _ in range(keep + 4):
            session = create_session(api)
            release(api, session["id"])
            ids.append(session["id"])
        listed = {s["id"] for s in api.get("/v1/sessions").json()}
        assert listed == set(ids[-keep:])
        for forgotten in ids[:-keep]:
            assert api.get(f"/v1/sessions/{forgotten}").status_code == 404
        assert server.app is not None
        assert len(server.app.state.registry.sessions) == keep
        wait_until(lambda: sorted(p.name for p in server.data_dir.glob("bb-*")) == [])  # no folders kept


class CountingDict(dict):
    """A dict that counts walks over all its entries."""

    walks = 0

    def values(self):  # type: ignore[override]
        CountingDict.walks += 1
        return super().values()

    def items(self):  # type: ignore[override]
        CountingDict.walks += 1
        return super().items()

    def __iter__(self):  # type: ignore[override]
        CountingDict.walks += 1
        return super().__iter__()


def test_a_session_end_does_not_walk_every_session(api: httpx.Client, small: LocalServer) -> None:
    # O(1) work per end: before, every end sorted all ended sessions to prune their logs.
    assert small.app is not None
    registry = small.app.state.registry
    sessions = [create_session(api) for _ in range(3)]
    registry.sessions = CountingDict(registry.sessions)
    CountingDict.walks = 0
    for session in sessions:
        release(api, session["id"])
        wait_until(lambda s=session: api.get(f"/v1/sessions/{s['id']}").json()["status"] == "COMPLETED")
    assert CountingDict.walks == 0


def test_only_the_last_ended_sessions_keep_their_logs(
    api: httpx.Client, small: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A session's log holds up to 1000 CDP calls (up to 16 MB): within the retention only the last
    # ENDED_WITH_LOGS ended sessions keep theirs (100; 2 here).
    monkeypatch.setattr(state, "ENDED_WITH_LOGS", 2)
    ids = []
    for _ in range(3):
        session = create_session(api)
        with websockets.sync.client.connect(session["connectUrl"]) as cdp:
            cdp.send('{"id": 1, "method": "Browser.getVersion"}')
            cdp.recv(timeout=10)
        wait_until(lambda s=session: api.get(f"/v1/sessions/{s['id']}").json()["status"] == "COMPLETED")
        ids.append(session["id"])
    logs = [api.get(f"/v1/sessions/{session_id}/logs").json() for session_id in ids]
    assert logs[0] == []
    assert logs[1] != []
    assert logs[2] != []
