"""Retries of reads and releases: which failures, how long to wait, how many times."""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from airflow_provider_browserbase.exceptions import (
    BrowserbaseConnectionError,
    BrowserbaseRateLimitError,
    BrowserbaseServerError,
    BrowserbaseTimeoutError,
)
from airflow_provider_browserbase.hooks._transport import backoff, parse_retry_after
from tests.hooks.hook_helpers import session_json

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
    from tests.hooks.hook_helpers import FakeClock, ScriptedApi

PATH = "/v1/sessions/s-1"
OK = httpx.Response(200, json=session_json())


def _http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({}, None),
        ({"retry-after": "soon"}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(httpx.Headers(headers)) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC).timestamp()
    headers = httpx.Headers({"retry-after": "Sat, 28 Nov 2026 09:00:30 GMT"})
    assert parse_retry_after(headers, now=now) == 30


@pytest.mark.parametrize(
    ("retries_done", "low", "high"), [(0, 0.375, 0.5), (1, 0.75, 1.0), (4, 6.0, 8.0), (9, 6.0, 8.0)]
)
def test_backoff_is_the_sdk_formula(retries_done: int, low: float, high: float) -> None:
    assert backoff(retries_done, lambda: 0.0) == high
    assert backoff(retries_done, lambda: 1.0) == low


@pytest.mark.parametrize(
    ("first", "expected_wait"),
    [
        (httpx.Response(429, headers={"retry-after": "7"}), 7.0),
        (httpx.Response(503, headers={"retry-after-ms": "1200"}), 1.2),
        (httpx.Response(429, headers={"retry-after": "61"}), 0.5),  # over max_retry_wait: backoff
        (httpx.Response(429, headers={"retry-after": "0"}), 0.5),
        (httpx.Response(502), 0.5),
        (httpx.Response(408), 0.5),
        (httpx.Response(409), 0.5),
        (httpx.ReadTimeout("slow"), 0.5),
        (httpx.ConnectError("refused"), 0.5),
        (httpx.RemoteProtocolError("dropped"), 0.5),
    ],
    ids=str,
)
def test_read_is_retried_with_the_right_wait(
    first: Any, expected_wait: float, api: ScriptedApi, hook: BrowserbaseHook, clock: FakeClock
) -> None:
    api.on("GET", PATH, first, OK)
    assert hook.get_session("s-1").status == "RUNNING"
    assert len(api.requests) == 2
    assert clock.sleeps == [pytest.approx(expected_wait)]


def test_retry_after_as_http_date(api: ScriptedApi, hook: BrowserbaseHook, clock: FakeClock) -> None:
    api.on("GET", PATH, httpx.Response(503, headers={"retry-after": _http_date(20)}), OK)
    hook.get_session("s-1")
    assert clock.sleeps == [pytest.approx(20, abs=1.5)]


def test_backoff_grows_between_retries(api: ScriptedApi, hook: BrowserbaseHook, clock: FakeClock) -> None:
    api.on("GET", PATH, httpx.Response(500), httpx.Response(500), httpx.Response(500), OK)
    hook.get_session("s-1")
    assert clock.sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_attempts_are_bounded(
    max_retries: int, api: ScriptedApi, make_hook: Callable[..., BrowserbaseHook]
) -> None:
    api.on("GET", PATH, httpx.Response(500, json={"message": "boom"}))
    hook = make_hook(api, max_retries=max_retries)
    with pytest.raises(BrowserbaseServerError, match="boom"):
        hook.get_session("s-1")
    assert len(api.requests) == max_retries + 1


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ConnectError("refused"), BrowserbaseConnectionError),
        (httpx.ReadTimeout("slow"), BrowserbaseTimeoutError),
    ],
)
def test_transport_errors_after_the_last_retry(
    error: Exception, expected: type[Exception], api: ScriptedApi, make_hook: Callable[..., BrowserbaseHook]
) -> None:
    api.on("GET", PATH, error)
    hook = make_hook(api, max_retries=1)
    with pytest.raises(expected) as info:
        hook.get_session("s-1")
    assert type(error).__name__ in str(info.value)
    assert len(api.requests) == 2


def test_x_should_retry_true_forces_a_retry(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("GET", PATH, httpx.Response(400, headers={"x-should-retry": "true"}), OK)
    hook.get_session("s-1")
    assert len(api.requests) == 2


def test_x_should_retry_false_forbids_one(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("GET", PATH, httpx.Response(503, headers={"x-should-retry": "false"}), OK)
    with pytest.raises(BrowserbaseServerError):
        hook.get_session("s-1")
    assert len(api.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(status: int, api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("GET", PATH, httpx.Response(status), OK)
    with pytest.raises(Exception, match=f"HTTP {status}"):
        hook.get_session("s-1")
    assert len(api.requests) == 1


def test_read_rate_limit_raises_after_retries(
    api: ScriptedApi, make_hook: Callable[..., BrowserbaseHook], clock: FakeClock
) -> None:
    api.on("GET", PATH, httpx.Response(429, headers={"retry-after": "3"}, json={"message": "slow down"}))
    hook = make_hook(api, max_retries=2)
    with pytest.raises(BrowserbaseRateLimitError) as info:
        hook.get_session("s-1")
    assert clock.sleeps == [3, 3]
    assert info.value.retry_after == 3


def test_retries_are_logged_without_secrets(
    api: ScriptedApi, hook: BrowserbaseHook, capsys: pytest.CaptureFixture[str]
) -> None:
    api.on("GET", PATH, httpx.Response(503, headers={"retry-after": "2"}), OK)
    hook.get_session("s-1")
    out = capsys.readouterr()
    logged = out.out + out.err
    assert "get_session got HTTP 503; retrying in 2.00 s (retry 1 of 3)" in logged


def test_release_is_retried(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", PATH, httpx.Response(503), httpx.ReadTimeout("slow"), OK)
    assert hook.end_session("s-1") is not None
    assert len(api.requests) == 3


@pytest.mark.parametrize(
    ("call", "method", "path"),
    [
        (lambda h: h.create_context(name="x"), "POST", "/v1/contexts"),
        (lambda h: h.upload_extension(b"zip", "e.zip"), "POST", "/v1/extensions"),
    ],
)
def test_non_idempotent_creates_repeat_only_unsent_requests(
    call: Any, method: str, path: str, api: ScriptedApi, hook: BrowserbaseHook
) -> None:
    api.on(
        method,
        path,
        httpx.ConnectError("refused"),
        httpx.Response(500),
        httpx.Response(201, json={"id": "x"}),
    )
    with pytest.raises(BrowserbaseServerError):
        call(hook)
    assert len(api.requests) == 2


async def test_async_retries_use_the_async_sleep(
    api: ScriptedApi, hook: BrowserbaseHook, clock: FakeClock
) -> None:
    api.on("GET", PATH, httpx.Response(429, headers={"retry-after-ms": "800"}), OK)
    assert (await hook.aget_session("s-1")).id == "s-1"
    await hook.aclose()
    assert clock.sleeps == [0.8]
