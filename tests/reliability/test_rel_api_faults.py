"""
API faults injected by ``browserbase-local``'s ``/_admin``: 500 bursts and 429 storms during create, end and
status polling, and a lost create answer. Each call succeeds once the faults stop, within its retry
budget, or fails with an error that names the call; no session is ever left RUNNING.

Backoff waits are shortened (``INITIAL_RETRY_DELAY``) and 429s ask for 50 ms (``retry-after-ms``) so the
module runs in seconds; the retry counts and budgets are the real ones.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import pytest
from reliability_helpers import FAULT_TALLY, Admin

from airflow_provider_browserbase.exceptions import (
    BrowserbaseRateLimitError,
    BrowserbaseServerError,
    BrowserbaseTimeoutError,
)
from airflow_provider_browserbase.hooks import _transport
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

if TYPE_CHECKING:
    from collections.abc import Iterator

FAST_429 = {"retry-after-ms": "50", "retry-after": "1"}


@pytest.fixture(autouse=True)
def short_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_transport, "INITIAL_RETRY_DELAY", 0.01)


@pytest.fixture
def hook(api_conn: str) -> Iterator[BrowserbaseHook]:
    with BrowserbaseHook(api_conn, rate_limit_wait=2.0) as hook:
        yield hook


def inject(admin: Admin, path: str, method: str, **fields: Any) -> None:
    admin.fault(path, method, **fields)
    FAULT_TALLY["injected"] += fields.get("count", 1)


def all_ids(admin: Admin) -> set[str]:
    return {s["id"] for s in admin.sessions()}


def assert_consumed(admin: Admin) -> None:
    assert admin.faults() == [], "the call stopped before the injected faults were used up"


# Create


@pytest.mark.parametrize("status", [500, 502, 503])
def test_create_succeeds_after_a_burst_within_the_retry_budget(
    hook: BrowserbaseHook, api_admin: Admin, status: int
) -> None:
    before = all_ids(api_admin)
    inject(api_admin, "/v1/sessions", "POST", status=status, count=hook.max_retries)
    created = hook.create_session(session_timeout=120)
    assert_consumed(api_admin)
    assert all_ids(api_admin) - before == {created.id}  # the refused attempts created nothing
    hook.end_session(created.id)


def test_create_fails_clearly_after_a_burst_longer_than_the_budget(
    hook: BrowserbaseHook, api_admin: Admin
) -> None:
    before = all_ids(api_admin)
    inject(api_admin, "/v1/sessions", "POST", status=500, count=hook.max_retries + 1)
    with pytest.raises(BrowserbaseServerError, match=r"create_session failed with HTTP 500: Injected fault"):
        hook.create_session()
    assert_consumed(api_admin)
    assert all_ids(api_admin) == before


@pytest.mark.parametrize("status", [500, 503])
def test_a_create_that_worked_but_answered_5xx_is_recovered_not_repeated(
    hook: BrowserbaseHook, api_admin: Admin, status: int
) -> None:
    before = all_ids(api_admin)
    inject(api_admin, "/v1/sessions", "POST", status=status, after=True, count=1)
    created = hook.create_session()
    new = all_ids(api_admin) - before
    assert new == {created.id}
    assert created.connect_url
    hook.end_session(created.id)


def test_create_waits_out_a_429_storm_as_retry_after_says(hook: BrowserbaseHook, api_admin: Admin) -> None:
    before = all_ids(api_admin)
    waits: list[float] = []
    hook._sleep = lambda seconds: (waits.append(seconds), time.sleep(seconds))[1]  # type: ignore[method-assign]
    inject(api_admin, "/v1/sessions", "POST", status=429, count=6, headers=FAST_429)
    created = hook.create_session()
    assert waits == [0.05] * 6  # more than max_retries: 429s are budgeted by time, not by count
    assert all_ids(api_admin) - before == {created.id}
    hook.end_session(created.id)


def test_create_gives_up_on_a_429_storm_after_its_wait_budget(
    hook: BrowserbaseHook, api_admin: Admin
) -> None:
    before = all_ids(api_admin)
    waits: list[float] = []
    hook._sleep = waits.append  # type: ignore[method-assign]
    inject(api_admin, "/v1/sessions", "POST", status=429, count=50, headers={"retry-after": "1"})
    with pytest.raises(BrowserbaseRateLimitError, match=r"HTTP 429.*retry after 1 s"):
        hook.create_session()
    assert sum(waits) <= hook.rate_limit_wait
    assert waits == [1.0, 1.0]
    assert all_ids(api_admin) == before


def test_a_429_that_forbids_retries_fails_at_once(hook: BrowserbaseHook, api_admin: Admin) -> None:
    inject(
        api_admin,
        "/v1/sessions",
        "POST",
        status=429,
        count=1,
        message="You've exceeded your max concurrent sessions limit (limit 4, currently 4)",
        headers={"x-should-retry": "false", "retry-after": "30", "x-ratelimit-limit": "4"},
    )
    with pytest.raises(BrowserbaseRateLimitError, match=r"limit hit: concurrent sessions, limit 4"):
        hook.create_session()


def test_a_lost_create_answer_gives_exactly_one_session(api_conn: str, api_admin: Admin) -> None:
    before = all_ids(api_admin)
    # The server creates the session, then answers after the client stopped waiting.
    inject(api_admin, "/v1/sessions", "POST", delay_after=3, count=1)
    with BrowserbaseHook(api_conn, api_timeout=1) as hook:
        created = hook.create_session()
        new = all_ids(api_admin) - before
        assert new == {created.id}
        hook.end_session(created.id)
    api_admin.wait_status(created.id, "COMPLETED")


def test_a_lost_create_answer_and_a_failing_lookup_name_the_nonce(api_conn: str, api_admin: Admin) -> None:
    """When even the lookup fails, the error tells how to find the session that may exist."""
    before = all_ids(api_admin)
    inject(api_admin, "/v1/sessions", "POST", delay_after=3, count=1)
    inject(api_admin, "/v1/sessions", "GET", status=503, count=10)
    with BrowserbaseHook(api_conn, api_timeout=1) as hook, pytest.raises(Exception) as raised:
        hook.create_session()
    message = str(raised.value)
    assert "create_session got ReadTimeout" in message
    assert "userMetadata.airflow.nonce=" in message
    api_admin.clear()
    (leftover,) = all_ids(api_admin) - before  # the server did create it, as the message warns
    nonce = message.split("userMetadata.airflow.nonce=")[1].split("'")[1]
    with BrowserbaseHook(api_conn) as hook:
        assert [s.id for s in hook.list_sessions(metadata={"airflow": {"nonce": nonce}})] == [leftover]
        hook.end_session(leftover)


# End


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500, "count": 3},
        {"status": 503, "count": 2, "headers": {"retry-after-ms": "20"}},
        {"status": 429, "count": 3, "headers": FAST_429},
        {"status": 500, "count": 1, "after": True},
    ],
    ids=["500-burst", "503-burst", "429-storm", "500-after-release"],
)
def test_end_survives_faults_within_its_budget(
    hook: BrowserbaseHook, api_admin: Admin, fault: dict[str, Any]
) -> None:
    created = hook.create_session()
    inject(api_admin, f"/v1/sessions/{created.id}", "POST", **fault)
    ended = hook.end_session(created.id)
    assert ended is not None
    assert ended.status == "COMPLETED"
    assert_consumed(api_admin)
    assert api_admin.status(created.id) == "COMPLETED"


def test_end_fails_clearly_when_the_api_keeps_failing(hook: BrowserbaseHook, api_admin: Admin) -> None:
    created = hook.create_session()
    inject(api_admin, f"/v1/sessions/{created.id}", "POST", status=500, count=hook.max_retries + 1)
    with pytest.raises(
        BrowserbaseServerError, match=rf"end_session for session {created.id} failed with HTTP 500"
    ):
        hook.end_session(created.id)
    assert api_admin.status(created.id) == "RUNNING"
    assert hook.end_session(created.id) is not None  # once the faults stop, the release works


def test_end_timeout_names_the_session(api_conn: str, api_admin: Admin) -> None:
    with BrowserbaseHook(api_conn, api_timeout=0.5, max_retries=1) as hook:
        created = hook.create_session()
        inject(api_admin, f"/v1/sessions/{created.id}", "POST", delay_after=2, count=2)
        # Both answers are lost: the error names the session, and the release took effect anyway.
        with pytest.raises(BrowserbaseTimeoutError, match=rf"end_session for session {created.id} failed"):
            hook.end_session(created.id)
    api_admin.wait_status(created.id, "COMPLETED")


# Status polling: the sensor and the trigger


@pytest.fixture
def ended_session(hook: BrowserbaseHook) -> str:
    created = hook.create_session()
    hook.end_session(created.id)
    return created.id


@pytest.mark.parametrize(
    "faults",
    [
        [{"status": 500, "count": 9}],
        [{"status": 429, "count": 9, "headers": FAST_429}],
        [{"status": 502, "count": 5}, {"status": 429, "count": 5, "headers": FAST_429}],
    ],
    ids=["500-burst", "429-storm", "mixed"],
)
def test_sensor_polls_through_faults(
    api_conn: str, api_admin: Admin, ended_session: str, faults: list[dict[str, Any]], make_context: Any
) -> None:
    from airflow_provider_browserbase.sensors.session import BrowserbaseSessionSensor

    for fault in faults:
        inject(api_admin, f"/v1/sessions/{ended_session}", "GET", **fault)
    sensor = BrowserbaseSessionSensor(
        task_id="wait",
        session_id=ended_session,
        browserbase_conn_id=api_conn,
        poke_interval=0.05,
        timeout=60,
        mode="poke",
    )
    sensor.execute(make_context())
    assert_consumed(api_admin)


def test_trigger_polls_through_faults(api_conn: str, api_admin: Admin, hook: BrowserbaseHook) -> None:
    from airflow_provider_browserbase.triggers.session import BrowserbaseSessionTrigger

    created = hook.create_session()
    inject(api_admin, f"/v1/sessions/{created.id}", "GET", status=500, count=6)
    inject(api_admin, f"/v1/sessions/{created.id}", "GET", status=429, count=6, headers=FAST_429)
    trigger = BrowserbaseSessionTrigger(
        session_id=created.id, browserbase_conn_id=api_conn, poll_interval=0.05, end_time=time.time() + 60
    )

    async def run() -> dict[str, Any]:
        async def end_when_faults_are_used() -> None:
            while api_admin.faults():
                await asyncio.sleep(0.05)
            await asyncio.to_thread(hook.end_session, created.id)

        ender = asyncio.ensure_future(end_when_faults_are_used())
        events = [event async for event in trigger.run()]
        await ender
        assert len(events) == 1
        return events[0].payload

    event = asyncio.run(run())
    assert event["status"] == "success", event
    assert event["session_status"] == "COMPLETED"
