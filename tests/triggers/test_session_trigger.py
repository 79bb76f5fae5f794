from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from airflow.triggers.base import TriggerEvent

from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.triggers import _shared_transport
from airflow_provider_browserbase.triggers import session as trigger_module
from airflow_provider_browserbase.triggers.session import BrowserbaseSessionTrigger, classify_session_status

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

CLASSPATH = "airflow_provider_browserbase.triggers.session.BrowserbaseSessionTrigger"


def session_body(session_id: str, status: str) -> dict[str, Any]:
    return {
        "id": session_id,
        "status": status,
        "createdAt": "2026-11-28T09:00:00Z",
        "updatedAt": "2026-11-28T09:00:00Z",
        "projectId": "proj",
        "keepAlive": False,
        "region": "us-west-2",
    }


async def collect(trigger: BrowserbaseSessionTrigger) -> list[TriggerEvent]:
    return [event async for event in trigger.run()]


class NoRetryHook(BrowserbaseHook):
    """The real hook, without its own retries, so errors reach the trigger at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, max_retries=0, **kwargs)


@pytest.fixture
def mock_api(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[httpx.Response]], list[httpx.Request]]:
    """Serve the trigger's reads from a list of responses (the last one repeats); returns the requests."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_BROWSERBASE_MOCK",
        json.dumps({"conn_type": "browserbase", "host": "https://bb.test", "password": "mock-key"}),
    )
    monkeypatch.setattr(trigger_module, "BrowserbaseHook", NoRetryHook)

    def install(responses: list[httpx.Response]) -> list[httpx.Request]:
        requests: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            requests.append(request)
            return responses[min(len(requests), len(responses)) - 1]

        @asynccontextmanager
        async def transport() -> AsyncIterator[httpx.AsyncBaseTransport]:
            yield httpx.MockTransport(handler)

        monkeypatch.setattr(trigger_module, "shared_async_transport", transport)
        return requests

    return install


def make_trigger(**overrides: Any) -> BrowserbaseSessionTrigger:
    kwargs: dict[str, Any] = {
        "session_id": "sess-1",
        "browserbase_conn_id": "browserbase_mock",
        "poll_interval": 0.01,
        "end_time": time.time() + 30,
    }
    kwargs.update(overrides)
    return BrowserbaseSessionTrigger(**kwargs)


def test_serialize_round_trip() -> None:
    trigger = BrowserbaseSessionTrigger(
        session_id="sess-1",
        browserbase_conn_id="bb",
        target_statuses=("RUNNING",),
        failure_statuses=("ERROR",),
        poll_interval=2,
        end_time=1_800_000_000.5,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    assert kwargs == {
        "session_id": "sess-1",
        "browserbase_conn_id": "bb",
        "target_statuses": ["RUNNING"],
        "failure_statuses": ["ERROR"],
        "poll_interval": 2.0,
        "end_time": 1_800_000_000.5,
    }
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert BrowserbaseSessionTrigger(**kwargs).serialize() == (classpath, kwargs)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("COMPLETED", ("success", "Browserbase session s reached status COMPLETED.")),
        ("ERROR", ("failed", "Browserbase session s ended with status ERROR.")),
        ("TIMED_OUT", ("failed", "Browserbase session s ended with status TIMED_OUT.")),
        ("RUNNING", None),
        ("PENDING", None),
        ("SOMETHING_NEW", None),
    ],
)
def test_classify_default_statuses(status: str, expected: tuple[str, str] | None) -> None:
    assert classify_session_status("s", status, ["COMPLETED"], ["ERROR", "TIMED_OUT"]) == expected


def test_classify_terminal_status_that_is_not_a_target_fails() -> None:
    result, message = classify_session_status("s", "COMPLETED", ["RUNNING"], ["ERROR"]) or ("", "")
    assert result == "failed"
    assert "COMPLETED" in message
    assert "without reaching RUNNING" in message


async def test_success_after_polling(mock_api: Callable[..., list[httpx.Request]]) -> None:
    requests = mock_api(
        [
            httpx.Response(200, json=session_body("sess-1", "RUNNING")),
            httpx.Response(200, json=session_body("sess-1", "RUNNING")),
            httpx.Response(200, json=session_body("sess-1", "COMPLETED")),
        ]
    )
    events = await collect(make_trigger())
    assert events == [
        TriggerEvent(
            {
                "status": "success",
                "session_id": "sess-1",
                "session_status": "COMPLETED",
                "message": "Browserbase session sess-1 reached status COMPLETED.",
            }
        )
    ]
    assert len(requests) == 3
    assert {(r.method, r.url.path) for r in requests} == {("GET", "/v1/sessions/sess-1")}
    assert requests[0].headers["X-BB-API-Key"] == "mock-key"


@pytest.mark.parametrize("status", ["ERROR", "TIMED_OUT"])
async def test_failure_status(mock_api: Callable[..., list[httpx.Request]], status: str) -> None:
    mock_api([httpx.Response(200, json=session_body("sess-1", status))])
    (event,) = await collect(make_trigger())
    assert event.payload["status"] == "failed"
    assert event.payload["session_status"] == status
    assert "sess-1" in event.payload["message"]
    assert status in event.payload["message"]


@pytest.mark.parametrize(
    "transient",
    [
        httpx.Response(503, json={"message": "try later"}),
        httpx.Response(500, text="boom"),
        httpx.Response(429, json={"message": "slow down"}, headers={"retry-after": "0"}),
    ],
    ids=["503", "500", "429"],
)
async def test_transient_errors_keep_polling(
    mock_api: Callable[..., list[httpx.Request]], transient: httpx.Response
) -> None:
    requests = mock_api(
        [
            transient,
            transient,
            httpx.Response(200, json=session_body("sess-1", "RUNNING")),
            transient,
            httpx.Response(200, json=session_body("sess-1", "COMPLETED")),
        ]
    )
    (event,) = await collect(make_trigger())
    assert event.payload["status"] == "success"
    assert len(requests) == 5


async def test_transport_errors_keep_polling(
    mock_api: Callable[..., list[httpx.Request]], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json=session_body("sess-1", "COMPLETED"))

    @asynccontextmanager
    async def transport() -> AsyncIterator[httpx.AsyncBaseTransport]:
        yield httpx.MockTransport(handler)

    mock_api([])
    monkeypatch.setattr(trigger_module, "shared_async_transport", transport)
    (event,) = await collect(make_trigger())
    assert event.payload["status"] == "success"
    assert calls == 3


@pytest.mark.parametrize(("code", "kind"), [(401, "Unauthorized"), (404, "Not Found"), (403, "Forbidden")])
async def test_non_transient_error_ends_with_error_event(
    mock_api: Callable[..., list[httpx.Request]], code: int, kind: str
) -> None:
    requests = mock_api([httpx.Response(code, json={"statusCode": code, "error": kind, "message": "nope"})])
    (event,) = await collect(make_trigger())
    assert event.payload["status"] == "error"
    assert event.payload["session_id"] == "sess-1"
    assert f"HTTP {code}" in event.payload["message"]
    assert "mock-key" not in event.payload["message"]
    assert len(requests) == 1


async def test_deadline_gives_timeout_event(mock_api: Callable[..., list[httpx.Request]]) -> None:
    requests = mock_api([httpx.Response(200, json=session_body("sess-1", "RUNNING"))])
    # 2 s: the first poll must come before the deadline even on a loaded machine (the trigger times out
    # at once, by design, when it finds the deadline passed); 0.05 s polls still give many before it.
    (event,) = await collect(make_trigger(end_time=time.time() + 2, poll_interval=0.05))
    assert event.payload["status"] == "timeout"
    assert event.payload["session_status"] == "RUNNING"
    assert "last status: RUNNING" in event.payload["message"]
    assert len(requests) >= 2


async def test_deadline_already_passed_still_reads_once(mock_api: Callable[..., list[httpx.Request]]) -> None:
    requests = mock_api([httpx.Response(200, json=session_body("sess-1", "COMPLETED"))])
    (event,) = await collect(make_trigger(end_time=time.time() - 10))
    assert event.payload["status"] == "success"
    assert len(requests) == 1


async def test_still_waiting_while_running(mock_api: Callable[..., list[httpx.Request]]) -> None:
    mock_api([httpx.Response(200, json=session_body("sess-1", "RUNNING"))])
    task = asyncio.create_task(make_trigger().run().__anext__())
    await asyncio.sleep(0.3)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_against_local_server_until_released(quick_conn: str) -> None:
    """The real hook and pool against ``browserbase-local``: RUNNING, then released -> COMPLETED."""
    hook = BrowserbaseHook(quick_conn)
    session = hook.create_session(session_timeout=600)
    try:
        task = asyncio.create_task(
            collect(make_trigger(session_id=session.id, browserbase_conn_id=quick_conn, poll_interval=0.05))
        )
        await asyncio.sleep(0.3)
        assert not task.done()
        hook.end_session(session.id)
        (event,) = await asyncio.wait_for(task, 30)
    finally:
        hook.end_session(session.id)
        hook.close()
    assert event.payload == {
        "status": "success",
        "session_id": session.id,
        "session_status": "COMPLETED",
        "message": f"Browserbase session {session.id} reached status COMPLETED.",
    }


async def test_against_local_server_timed_out(quick_conn: str) -> None:
    hook = BrowserbaseHook(quick_conn)
    session = hook.create_session(session_timeout=60)  # 0.6 s on the quick server
    try:
        (event,) = await asyncio.wait_for(
            collect(make_trigger(session_id=session.id, browserbase_conn_id=quick_conn, poll_interval=0.05)),
            30,
        )
    finally:
        hook.end_session(session.id)
        hook.close()
    assert event.payload["status"] == "failed"
    assert event.payload["session_status"] == "TIMED_OUT"


async def test_against_local_server_unknown_session(quick_conn: str) -> None:
    (event,) = await collect(make_trigger(session_id="no-such-session", browserbase_conn_id=quick_conn))
    assert event.payload["status"] == "error"
    assert "404" in event.payload["message"]


async def test_triggers_on_one_loop_share_one_pool(quick_conn: str) -> None:
    hook = BrowserbaseHook(quick_conn)
    sessions = [hook.create_session(session_timeout=600) for _ in range(3)]
    loop = asyncio.get_running_loop()
    try:
        tasks = [
            asyncio.create_task(
                collect(make_trigger(session_id=s.id, browserbase_conn_id=quick_conn, poll_interval=0.05))
            )
            for s in sessions
        ]
        for _ in range(100):
            if _shared_transport.pool_users(loop) == 3:
                break
            await asyncio.sleep(0.02)
        assert _shared_transport.pool_users(loop) == 3
        pool = _shared_transport._POOLS[loop].transport
        for s in sessions:
            hook.end_session(s.id)
        results = await asyncio.wait_for(asyncio.gather(*tasks), 30)
    finally:
        for s in sessions:
            hook.end_session(s.id)
        hook.close()
    assert [events[0].payload["status"] for events in results] == ["success"] * 3
    # The last trigger out closed the pool and removed it.
    assert _shared_transport.pool_users(loop) == 0
    assert loop not in _shared_transport._POOLS
    assert pool._pool.connections == []
