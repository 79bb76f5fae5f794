"""The hook against a real ``browserbase-local`` (API-only sessions, no browser needed)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx
import pytest

from airflow_provider_browserbase.exceptions import (
    BrowserbaseAuthenticationError,
    BrowserbaseNotFoundError,
    BrowserbaseRateLimitError,
)
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from tests.support import connection_uri_env

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_browserbase.local.server import LocalServer


@pytest.fixture
def local_hook(api_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[BrowserbaseHook]:
    monkeypatch.setenv("AIRFLOW_CONN_BB_LOCAL", connection_uri_env(api_server.base_url, api_server.api_key))
    with BrowserbaseHook("bb_local") as hook:
        yield hook


def test_session_lifecycle(local_hook: BrowserbaseHook) -> None:
    created = local_hook.create_session(
        session_timeout=120, user_metadata={"airflow": {"dag_id": "hook_local"}}
    )
    try:
        assert created.connect_url
        assert created.status in ("PENDING", "RUNNING")
        fetched = local_hook.get_session(created.id)
        assert fetched.id == created.id
        assert fetched.user_metadata is not None
        assert fetched.user_metadata["airflow"]["dag_id"] == "hook_local"
        listed = local_hook.list_sessions(metadata={"airflow": {"dag_id": "hook_local"}}, status="RUNNING")
        assert created.id in {s.id for s in listed}
        nonce = fetched.user_metadata["airflow"]["nonce"]
        assert [s.id for s in local_hook.list_sessions(metadata={"airflow": {"nonce": nonce}})] == [
            created.id
        ]
        # The live view's link carries the capability only /debug (with the API key) hands out.
        link = local_hook.session_url(created.id)
        viewer = local_hook.get_live_urls(created.id).debugger_fullscreen_url
        assert viewer is not None
        assert link == viewer.replace("&fullscreen=1", "")  # the person's viewer, with its status line
        assert f"/sessions/{created.id}/live?token=" in link
        assert "fullscreen" not in link
    finally:
        ended = local_hook.end_session(created.id, wait=True, wait_timeout=30, poll_interval=0.2)
    assert ended is not None
    assert ended.status == "COMPLETED"
    again = local_hook.end_session(created.id)
    assert again is None or again.is_terminal


def test_unknown_session(local_hook: BrowserbaseHook) -> None:
    with pytest.raises(BrowserbaseNotFoundError):
        local_hook.get_session("00000000-0000-0000-0000-000000000000")
    assert local_hook.end_session("00000000-0000-0000-0000-000000000000") is None


def test_session_context_manager_releases(local_hook: BrowserbaseHook) -> None:
    with local_hook.session() as session:
        session_id = session.id
    assert local_hook.get_session(session_id).status in ("COMPLETED", "RUNNING")
    ended = local_hook.end_session(session_id, wait=True, wait_timeout=30, poll_interval=0.2)
    assert ended is None or ended.status == "COMPLETED"


def test_contexts(local_hook: BrowserbaseHook) -> None:
    created = local_hook.create_context(name="hook-local-context")
    assert local_hook.get_context(created.id).id == created.id
    local_hook.delete_context(created.id)
    with pytest.raises(BrowserbaseNotFoundError):
        local_hook.get_context(created.id)


def test_projects(local_hook: BrowserbaseHook) -> None:
    projects = local_hook.list_projects()
    assert projects
    assert local_hook.get_project().id == projects[0].id
    assert local_hook.get_project_usage().browser_minutes >= 0
    ok, message = local_hook.test_connection()
    assert ok, message


def test_wrong_key(api_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BB_BADKEY", connection_uri_env(api_server.base_url, "bb_wrong_key"))
    with BrowserbaseHook("bb_badkey") as hook:
        with pytest.raises(BrowserbaseAuthenticationError):
            hook.list_projects()
        ok, message = hook.test_connection()
    assert not ok
    assert "401" in message
    assert "bb_wrong_key" not in message


class LoseFirstCreateAnswer(httpx.HTTPTransport):
    """Delivers the first create to the server, then drops its answer as a read timeout would."""

    def __init__(self) -> None:
        super().__init__()
        self.creates = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "POST" and request.url.path == "/v1/sessions":
            self.creates += 1
            if self.creates == 1:
                response.read()
                response.close()
                raise httpx.ReadTimeout("answer lost", request=request)
        return response


def test_lost_create_answer_yields_the_one_session(
    api_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BB_LOSSY", connection_uri_env(api_server.base_url, api_server.api_key))
    transport = LoseFirstCreateAnswer()
    with BrowserbaseHook("bb_lossy", transport=transport) as hook:
        tag = {"airflow": {"dag_id": "lossy"}}
        created = hook.create_session(user_metadata=tag)
        try:
            assert transport.creates == 1
            assert created.connect_url
            assert [s.id for s in hook.list_sessions(metadata=tag)] == [created.id]
        finally:
            hook.end_session(created.id)


async def test_async_lifecycle(api_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BB_ALOCAL", connection_uri_env(api_server.base_url, api_server.api_key))
    async with BrowserbaseHook("bb_alocal") as hook:
        async with hook.asession(user_metadata={"airflow": {"dag_id": "async_local"}}) as session:
            fetched = await hook.aget_session(session.id)
            assert fetched.connect_url == session.connect_url
            listed = await hook.alist_sessions(metadata={"airflow": {"dag_id": "async_local"}})
            assert [s.id for s in listed] == [session.id]
        ended = await hook.aend_session(session.id, wait=True, wait_timeout=30, poll_interval=0.2)
        assert ended is None or ended.status == "COMPLETED"


def test_concurrency_limit_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_browserbase.local.server import LocalServer

    with LocalServer(port=0, no_browser=True, max_sessions=1, api_key="bb_limit_key", demo=False) as server:
        monkeypatch.setenv(
            "AIRFLOW_CONN_BB_LIMIT",
            json.dumps({"conn_type": "browserbase", "host": server.base_url, "password": "bb_limit_key"}),
        )
        with BrowserbaseHook("bb_limit", rate_limit_wait=0) as hook:
            first = hook.create_session()
            try:
                with pytest.raises(BrowserbaseRateLimitError) as info:
                    hook.create_session()
                assert info.value.limit_kind == "concurrent sessions"
            finally:
                hook.end_session(first.id)
