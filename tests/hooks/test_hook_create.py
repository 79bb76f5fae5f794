"""Session create: the nonce, recovery after a lost answer, and rate limits. One call, one session."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx
import pytest

from airflow_provider_browserbase.exceptions import (
    BrowserbaseBadRequestError,
    BrowserbaseError,
    BrowserbasePermissionDeniedError,
    BrowserbaseRateLimitError,
    BrowserbaseServerError,
    BrowserbaseValidationError,
)
from tests.hooks.hook_helpers import StoringApi

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
    from tests.hooks.hook_helpers import FakeClock


class FakeSessions(StoringApi):
    """
    A stateful API: creates really store sessions, and ``lose`` decides per create whether its answer
    is lost after the session was stored (``"timeout"``, ``"500"``, ``"dropped"``), fails before it was
    stored (``"502-unstored"``) or never arrives (``"refused"``), so tests can count the sessions that exist.
    """

    def __init__(self, *fates: str, lookup_fails: bool = False) -> None:
        super().__init__(*fates)
        self.lookup_fails = lookup_fails

    def answer(self, request: httpx.Request, path: str) -> httpx.Response:
        if request.method == "POST" and path == "/v1/sessions":
            fate = self.next_fate()
            if fate == "refused":
                raise httpx.ConnectError("connection refused", request=request)
            if fate == "429":
                return httpx.Response(429, headers={"retry-after": "5"}, json={"message": "too many"})
            if fate == "502-unstored":
                return httpx.Response(502, json={"message": "bad gateway"})
            session_id = self.store(request)
            if fate == "timeout":
                raise httpx.ReadTimeout("timed out", request=request)
            if fate == "500":
                return httpx.Response(500, json={"message": "Unknown error: 500"})
            if fate == "dropped":
                raise httpx.RemoteProtocolError("Server disconnected", request=request)
            return httpx.Response(201, json=self.sessions[session_id])
        if request.method == "GET" and path == "/v1/sessions":
            if self.lookup_fails:
                return httpx.Response(500)
            return httpx.Response(200, json=self.matching(request))
        if request.method == "GET" and path.startswith("/v1/sessions/"):
            return httpx.Response(200, json=self.sessions[path.rsplit("/", 1)[1]])
        return httpx.Response(404)

    def creates(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST"]

    def lookups(self) -> list[httpx.Request]:
        return self.requests_to("GET", "/v1/sessions")


def nonce_of(request: httpx.Request) -> str:
    return json.loads(request.content)["userMetadata"]["airflow"]["nonce"]


@pytest.mark.parametrize("fate", ["timeout", "500", "dropped"])
def test_lost_answer_recovers_the_session_instead_of_creating_another(
    fate: str, make_hook: Callable[..., BrowserbaseHook]
) -> None:
    api = FakeSessions(fate)
    hook = make_hook(api)
    created = hook.create_session(user_metadata={"airflow": {"dag_id": "etl"}})
    assert len(api.sessions) == 1
    assert len(api.creates()) == 1
    assert created.id == "s-1"
    assert created.connect_url == "ws://bb.test/?signingKey=sk-s-1-SIGNING"
    (lookup,) = api.lookups()
    assert lookup.url.params["q"] == f"user_metadata['airflow']['nonce']:'{nonce_of(api.creates()[0])}'"


@pytest.mark.parametrize("fate", ["timeout", "500"])
async def test_async_lost_answer_recovers_the_session(
    fate: str, make_hook: Callable[..., BrowserbaseHook]
) -> None:
    api = FakeSessions(fate)
    hook = make_hook(api)
    created = await hook.acreate_session()
    await hook.aclose()
    assert created.id == "s-1"
    assert len(api.sessions) == 1


def test_create_is_resent_only_when_the_lookup_finds_nothing(
    make_hook: Callable[..., BrowserbaseHook], clock: FakeClock
) -> None:
    api = FakeSessions("502-unstored")
    hook = make_hook(api)
    created = hook.create_session()
    assert created.id == "s-1"
    assert len(api.sessions) == 1
    creates = api.creates()
    assert len(creates) == 2
    assert nonce_of(creates[0]) == nonce_of(creates[1])
    # Two lookups before the second create (a slow create may be listed late), one sweep after it.
    assert len(api.lookups()) == 3
    assert {r.url.params["q"] for r in api.lookups()} == {api.lookups()[0].url.params["q"]}
    assert clock.sleeps == [0.5]


def test_connect_errors_are_retried_without_a_lookup(make_hook: Callable[..., BrowserbaseHook]) -> None:
    api = FakeSessions("refused", "refused")
    hook = make_hook(api)
    assert hook.create_session().id == "s-1"
    assert len(api.creates()) == 3
    assert api.lookups() == []


def test_creates_are_bounded(make_hook: Callable[..., BrowserbaseHook]) -> None:
    api = FakeSessions("refused", "refused", "refused")
    hook = make_hook(api, max_retries=2)
    with pytest.raises(BrowserbaseError, match="could not connect"):
        hook.create_session()
    assert len(api.creates()) == 3
    assert api.sessions == {}


def test_failed_lookup_says_a_session_may_exist(make_hook: Callable[..., BrowserbaseHook]) -> None:
    api = FakeSessions("timeout", lookup_fails=True)
    hook = make_hook(api, max_retries=1)
    with pytest.raises(BrowserbaseError, match="may exist") as info:
        hook.create_session()
    assert nonce_of(api.creates()[0]) in str(info.value)
    assert len(api.creates()) == 1


def test_each_call_has_its_own_nonce(make_hook: Callable[..., BrowserbaseHook]) -> None:
    api = FakeSessions()
    hook = make_hook(api)
    hook.create_session()
    hook.create_session()
    first, second = api.creates()
    assert nonce_of(first) != nonce_of(second)


@pytest.mark.parametrize(
    ("message", "headers", "kind"),
    [
        (
            "You've exceeded your max concurrent sessions limit (limit 3, currently 3)",
            {},
            "concurrent sessions",
        ),
        (
            "Too many session creations per minute",
            {"x-ratelimit-limit": "25"},
            "session creations per minute",
        ),
        ("Too Many Requests", {"x-should-retry": "false"}, "concurrent sessions"),
        ("Too Many Requests", {}, "rate limit"),
    ],
)
def test_rate_limit_waits_then_names_the_limit(
    message: str,
    headers: dict[str, str],
    kind: str,
    make_hook: Callable[..., BrowserbaseHook],
    clock: FakeClock,
) -> None:
    limited = httpx.Response(429, headers={"retry-after": "45", **headers}, json={"message": message})
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(limited.status_code, headers=limited.headers, content=limited.content)

    hook = make_hook(handler, rate_limit_wait=100)
    with pytest.raises(BrowserbaseRateLimitError) as info:
        hook.create_session()
    error = info.value
    assert error.limit_kind == kind
    assert error.retry_after == 45
    assert f"limit hit: {kind}" in str(error)
    if headers.get("x-should-retry") == "false":
        assert clock.sleeps == []
        assert len(calls) == 1
    else:
        assert clock.sleeps == [45, 45]  # a third wait would pass rate_limit_wait
        assert len(calls) == 3


def test_rate_limit_then_success(make_hook: Callable[..., BrowserbaseHook], clock: FakeClock) -> None:
    api = FakeSessions("429", "429")
    hook = make_hook(api)
    assert hook.create_session().id == "s-1"
    assert clock.sleeps == [5, 5]
    assert api.lookups() == []


def test_limit_from_the_message(make_hook: Callable[..., BrowserbaseHook]) -> None:
    body = {"message": "You've exceeded your max concurrent sessions limit (limit 3, currently 3)"}
    hook = make_hook(lambda r: httpx.Response(429, headers={"x-should-retry": "false"}, json=body))
    with pytest.raises(BrowserbaseRateLimitError) as info:
        hook.create_session()
    assert info.value.limit == 3


@pytest.mark.parametrize(
    ("status", "error"), [(400, BrowserbaseBadRequestError), (403, BrowserbasePermissionDeniedError)]
)
def test_client_errors_raise_at_once(
    status: int, error: type[Exception], make_hook: Callable[..., BrowserbaseHook]
) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(
            status, json={"message": "Keep alive sessions are not supported on the FREE plan"}
        )

    with pytest.raises(error, match="FREE plan"):
        make_hook(handler).create_session(keep_alive=True)
    assert len(calls) == 1


def test_server_error_without_recovery_after_the_last_try(make_hook: Callable[..., BrowserbaseHook]) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if request.method == "GET":
            return httpx.Response(200, json=[])
        return httpx.Response(500, json={"message": "Unknown error: 500"})

    with pytest.raises(BrowserbaseServerError, match="Unknown error"):
        make_hook(handler, max_retries=1).create_session()
    assert calls == ["POST", "GET", "GET", "POST", "GET"]


def test_metadata_that_leaves_no_room_for_the_nonce(make_hook: Callable[..., BrowserbaseHook]) -> None:
    calls: list[httpx.Request] = []
    hook = make_hook(lambda r: calls.append(r) or httpx.Response(500))
    with pytest.raises(BrowserbaseValidationError, match="nonce"):
        hook.create_session(user_metadata={"blob": "x" * 480})
    with pytest.raises(BrowserbaseValidationError, match=r"user_metadata\.airflow"):
        hook.create_session(user_metadata={"airflow": "not an object"})
    assert calls == []
