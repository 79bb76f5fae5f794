"""The operators pass settings this provider does not know to the API unchanged, named in one warning."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
from support import connection_uri_env

from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.operators.session import BrowserbaseCreateSessionOperator

if TYPE_CHECKING:
    from collections.abc import Callable

    import pytest

NOW = "2026-11-28T09:00:00Z"
CREATED = {
    "id": "s-1",
    "status": "RUNNING",
    "projectId": "p",
    "createdAt": NOW,
    "updatedAt": NOW,
    "startedAt": NOW,
    "expiresAt": NOW,
    "keepAlive": False,
    "proxyBytes": 0,
    "region": "ap-northeast-1",
    "connectUrl": "ws://bb.test/?signingKey=sk-0123456789abcdef0123",
    "seleniumRemoteUrl": "http://bb.test/webdriver",
    "signingKey": "sk-0123456789abcdef0123",
}
SETTINGS: dict[str, Any] = {
    "session_settings": {"futureTopLevel": {"a": 1}, "keepalive": True, "browserSettings": {"newFlag": True}},
    "browser_settings": {"blockAds": True, "otherNewFlag": "x"},
    "proxies": [{"type": "none", "domainPattern": "internal", "newProxyOption": 1}],
    "region": "ap-northeast-1",
}


def test_unknown_settings_reach_the_api_with_one_warning(
    make_context: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BB_FORWARD", connection_uri_env("http://bb.test", "bb_key"))
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method != "POST":  # the session link's /debug read: none for this fake session
            return httpx.Response(404, json={"statusCode": 404, "message": "Session not found"})
        sent.append(json.loads(request.content))
        return httpx.Response(201, json=CREATED)

    task = BrowserbaseCreateSessionOperator(task_id="create", browserbase_conn_id="bb_forward", **SETTINGS)
    task.__dict__["hook"] = BrowserbaseHook("bb_forward", transport=httpx.MockTransport(handler))
    task.execute(make_context())

    (body,) = sent
    assert body["futureTopLevel"] == {"a": 1}
    assert body["keepalive"] is True
    assert body["browserSettings"] == {"newFlag": True, "blockAds": True, "otherNewFlag": "x"}
    assert body["proxies"] == [{"type": "none", "domainPattern": "internal", "newProxyOption": 1}]
    assert body["region"] == "ap-northeast-1"
    warnings = [
        line for line in capsys.readouterr().out.splitlines() if "Browserbase session settings:" in line
    ]
    assert len(warnings) == 1, warnings
    for name in (
        "futureTopLevel",
        "keepalive (did you mean 'keepAlive'?)",
        "browser_settings.newFlag",
        "proxies[0].newProxyOption",
        "region 'ap-northeast-1'",
    ):
        assert name in warnings[0], name


def test_browserbase_local_accepts_them(quick_conn: str, make_context: Callable[..., dict[str, Any]]) -> None:
    task = BrowserbaseCreateSessionOperator(task_id="create", browserbase_conn_id=quick_conn, **SETTINGS)
    summary = task.execute(make_context())
    try:
        assert summary["status"] in ("PENDING", "RUNNING")
    finally:
        task.hook.end_session(summary["id"])
