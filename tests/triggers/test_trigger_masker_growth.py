"""Status polls register no secret: the triggerer's secrets masker must not grow per watched session."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx
import pytest
from airflow.sdk._shared.secrets_masker import _secrets_masker

from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.triggers.session import BrowserbaseSessionTrigger

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.server import LocalServer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _patterns() -> set[str]:
    return set(_secrets_masker().patterns)


async def test_trigger_polls_register_no_session_secret(quick_server: LocalServer, quick_conn: str) -> None:
    # Sessions made by another client, as in the triggerer: this process has never seen their secrets.
    with httpx.Client(base_url=quick_server.base_url, headers={"X-BB-API-Key": quick_server.api_key}) as api:
        # 3600 s is 36 s on the quick server: "live" is still running when its trigger reads it.
        live, ended = (api.post("/v1/sessions", json={"timeout": 3600}).json() for _ in range(2))
        api.post(f"/v1/sessions/{ended['id']}", json={"status": "REQUEST_RELEASE"}).raise_for_status()
        before = _patterns()
        events = []
        for session_id in (ended["id"], live["id"]):
            trigger = BrowserbaseSessionTrigger(session_id, quick_conn, poll_interval=0.05, end_time=0)
            events += [event.payload async for event in trigger.run()]
        api.post(f"/v1/sessions/{live['id']}", json={"status": "REQUEST_RELEASE"}).raise_for_status()
    assert [e["status"] for e in events] == ["success", "timeout"]
    assert [e["session_status"] for e in events] == ["COMPLETED", "RUNNING"]
    added = _patterns() - before
    for secret in (live["signingKey"], ended["signingKey"]):
        assert not any(secret in pattern.replace("\\", "") for pattern in added)


async def test_status_read_keeps_no_secret_field(quick_conn: str) -> None:
    async with BrowserbaseHook(quick_conn) as hook:
        created = await hook.acreate_session()
        try:
            status = await hook.aget_session_status(created.id)
            synced = hook.get_session_status(created.id)
        finally:
            await hook.aend_session(created.id)
            hook.close()
    for session in (status, synced):
        assert session.id == created.id
        assert session.status == "RUNNING"
        dumped = session.model_dump_json(by_alias=True)
        assert created.signing_key not in dumped
        assert created.connect_url not in dumped


def test_status_read_of_an_unknown_session_raises_not_found(quick_conn: str) -> None:
    from airflow_provider_browserbase.exceptions import BrowserbaseNotFoundError

    with BrowserbaseHook(quick_conn) as hook, pytest.raises(BrowserbaseNotFoundError):
        hook.get_session_status("no-such-session")


def test_status_read_answers_the_body_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "k" * 20
    body = {"id": "s-1", "status": "RUNNING", "connectUrl": f"ws://x/?signingKey={key}", "signingKey": key}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    monkeypatch.setenv(
        "AIRFLOW_CONN_BROWSERBASE_STATUS_MOCK",
        json.dumps({"conn_type": "browserbase", "host": "https://bb.test", "password": "mock-status-key"}),
    )
    before = _patterns()
    with BrowserbaseHook("browserbase_status_mock", transport=httpx.MockTransport(handler)) as hook:
        session = hook.get_session_status("s-1")
    assert session.status == "RUNNING"
    assert session.model_extra == {}
    assert "signingKey" not in session.model_dump_json(by_alias=True)
    assert _patterns() - before <= {"mock\\-status\\-key"}
