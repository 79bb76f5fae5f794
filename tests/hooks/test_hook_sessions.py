"""Ending sessions (idempotent, waiting), the session() context managers and the session page URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from airflow_provider_browserbase.exceptions import (
    BrowserbaseBadRequestError,
    BrowserbaseServerError,
    BrowserbaseSessionError,
)
from tests.hooks.hook_helpers import created_json, session_json

if TYPE_CHECKING:
    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
    from tests.hooks.hook_helpers import FakeClock, ScriptedApi

PATH = "/v1/sessions/s-1"


def test_end_missing_session_is_success(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", PATH, httpx.Response(404, json={"message": "Session not found"}))
    assert hook.end_session("s-1") is None
    assert len(api.requests) == 1


def test_end_already_ended_session_is_success(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", PATH, httpx.Response(200, json=session_json(status="COMPLETED")))
    ended = hook.end_session("s-1", wait=True)
    assert ended is not None
    assert ended.status == "COMPLETED"
    assert len(api.requests) == 1


def test_refused_release_of_an_ended_session_is_success(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", PATH, httpx.Response(400, json={"message": "Session is not running"}))
    api.on("GET", PATH, httpx.Response(200, json=session_json(status="TIMED_OUT")))
    ended = hook.end_session("s-1")
    assert ended is not None
    assert ended.status == "TIMED_OUT"


def test_refused_release_of_a_live_session_raises(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", PATH, httpx.Response(400, json={"message": "bad body"}))
    api.on("GET", PATH, httpx.Response(200, json=session_json(status="RUNNING")))
    with pytest.raises(BrowserbaseBadRequestError, match="bad body"):
        hook.end_session("s-1")


def test_end_retries_503_then_succeeds(api: ScriptedApi, hook: BrowserbaseHook, clock: FakeClock) -> None:
    api.on("POST", PATH, httpx.Response(503), httpx.Response(503), httpx.Response(200, json=session_json()))
    assert hook.end_session("s-1") is not None
    assert len(api.requests) == 3
    assert clock.sleeps == [0.5, 1.0]


def test_end_gives_up_after_the_retries(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", PATH, httpx.Response(503))
    with pytest.raises(BrowserbaseServerError) as info:
        hook.end_session("s-1")
    assert info.value.session_id == "s-1"
    assert "for session s-1" in str(info.value)


def test_end_waits_until_terminal(api: ScriptedApi, hook: BrowserbaseHook, clock: FakeClock) -> None:
    api.on("POST", PATH, httpx.Response(200, json=session_json()))
    api.on(
        "GET",
        PATH,
        httpx.Response(200, json=session_json()),
        httpx.Response(200, json=session_json(status="COMPLETED")),
    )
    ended = hook.end_session("s-1", wait=True, poll_interval=2)
    assert ended is not None
    assert ended.status == "COMPLETED"
    assert clock.sleeps == [2, 2]


def test_end_wait_times_out(api: ScriptedApi, hook: BrowserbaseHook, clock: FakeClock) -> None:
    api.on("POST", PATH, httpx.Response(200, json=session_json()))
    api.on("GET", PATH, httpx.Response(200, json=session_json()))
    with pytest.raises(BrowserbaseSessionError, match="still RUNNING after 5 s") as info:
        hook.end_session("s-1", wait=True, wait_timeout=5, poll_interval=2)
    assert info.value.status == "RUNNING"
    assert clock.sleeps == [2, 2, 1]


async def test_async_end_waits(api: ScriptedApi, hook: BrowserbaseHook, clock: FakeClock) -> None:
    api.on("POST", PATH, httpx.Response(503), httpx.Response(200, json=session_json()))
    api.on("GET", PATH, httpx.Response(200, json=session_json(status="ERROR")))
    ended = await hook.aend_session("s-1", wait=True)
    await hook.aclose()
    assert ended is not None
    assert ended.status == "ERROR"
    assert clock.sleeps == [0.5, 1.0]


def test_session_context_manager_ends_the_session(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", "/v1/sessions", httpx.Response(201, json=created_json()))
    api.on("POST", PATH, httpx.Response(200, json=session_json(status="COMPLETED")))
    with hook.session(region="us-east-1") as session:
        assert session.id == "s-1"
        assert [r.method for r in api.requests] == ["POST"]
    assert [r.url.path for r in api.requests] == ["/v1/sessions", PATH]


def test_session_context_manager_keeps_the_original_error(
    api: ScriptedApi, hook: BrowserbaseHook, capsys: pytest.CaptureFixture[str]
) -> None:
    api.on("POST", "/v1/sessions", httpx.Response(201, json=created_json()))
    api.on("POST", PATH, httpx.Response(500, json={"message": "release failed"}))
    with pytest.raises(KeyError, match="user code"), hook.session():
        raise KeyError("user code")
    assert len(api.calls("POST", PATH)) == 4
    logged = capsys.readouterr()
    assert "Could not end Browserbase session s-1" in logged.out + logged.err
    assert "release failed" in logged.out + logged.err


async def test_async_session_context_manager(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", "/v1/sessions", httpx.Response(201, json=created_json()))
    api.on("POST", PATH, httpx.Response(200, json=session_json(status="COMPLETED")))
    seen = []
    with pytest.raises(RuntimeError, match="inside"):  # noqa: PT012  (the error must come from the body)
        async with hook.asession() as session:
            seen.append(session.connect_url)
            raise RuntimeError("inside")
    assert seen == [created_json()["connectUrl"]]
    await hook.aclose()
    assert [r.url.path for r in api.requests] == ["/v1/sessions", PATH]


async def test_async_client_follows_the_event_loop(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("GET", PATH, httpx.Response(200, json=session_json()))
    await hook.aget_session("s-1")
    first = hook._aclient
    await hook.aget_session("s-1")
    assert hook._aclient is first
    await hook.aclose()
    assert hook._aclient is None


def test_sync_client_is_pooled_and_closed(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("GET", PATH, httpx.Response(200, json=session_json()))
    with hook:
        hook.get_session("s-1")
        client = hook.get_conn()
        hook.get_session("s-1")
        assert hook.get_conn() is client
    assert client.is_closed


@pytest.mark.parametrize(
    ("release_answers", "expected"),
    [
        (
            ["RUNNING"],
            [
                "Created Browserbase session s-1 (status RUNNING)",
                "Requested the release of Browserbase session s-1 (status RUNNING)",
                "Browserbase session s-1 has ended (status COMPLETED)",
            ],
        ),
        (
            ["COMPLETED"],
            [
                "Created Browserbase session s-1 (status RUNNING)",
                "Released Browserbase session s-1: it has ended (status COMPLETED)",
            ],
        ),
    ],
)
def test_one_log_line_per_event_in_order(
    release_answers: list[str],
    expected: list[str],
    api: ScriptedApi,
    hook: BrowserbaseHook,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api.on("POST", "/v1/sessions", httpx.Response(201, json=created_json()))
    api.on(
        "POST",
        "/v1/sessions/s-1",
        *(httpx.Response(200, json=session_json(status=s)) for s in release_answers),
    )
    api.on("GET", "/v1/sessions/s-1", httpx.Response(200, json=session_json(status="COMPLETED")))
    created = hook.create_session()
    hook.end_session(created.id, wait=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if "Browserbase session" in line]
    assert len(lines) == len(expected), lines
    for line, text in zip(lines, expected, strict=True):
        assert text in line, (text, line)
