"""A slow create listed only after its create was re-sent: the duplicate is ended, not leaked."""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from airflow_provider_browserbase.exceptions import BrowserbasePermissionDeniedError
from tests.hooks.hook_helpers import StoringApi, created_json, raw_path

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

MODES = pytest.mark.parametrize("mode", ["sync", "async"])


class SlowSessions(StoringApi):
    """
    A stateful API whose creates store sessions for real. A ``"slow"`` create times out and its session
    is listed only from the ``reveal_at``-th list call on (it was still being created before that); an
    ``"ok"`` create answers at once. List calls from the ``fail_lists_from``-th on answer 500. Two sessions
    not made by the hook (one with another nonce) exist from the start and must never be touched.
    """

    def __init__(self, *fates: str, reveal_at: int = 1, fail_lists_from: int | None = None) -> None:
        super().__init__(*fates)
        self.reveal_at = reveal_at
        self.fail_lists_from = fail_lists_from
        self.refuse_release: set[str] = set()
        self.sessions.update(
            {
                "other-1": created_json("other-1"),
                "other-2": created_json("other-2", userMetadata={"airflow": {"nonce": "not-ours"}}),
            }
        )
        self.hidden: set[str] = set()
        self.list_count = 0

    def answer(self, request: httpx.Request, path: str) -> httpx.Response:
        if request.method == "POST" and path == "/v1/sessions":
            fate = self.next_fate()
            session_id = self.store(request)
            if fate == "slow":
                self.hidden.add(session_id)
                raise httpx.ReadTimeout("timed out", request=request)
            return httpx.Response(201, json=self.sessions[session_id])
        if request.method == "GET" and path == "/v1/sessions":
            self.list_count += 1
            if self.fail_lists_from is not None and self.list_count >= self.fail_lists_from:
                return httpx.Response(500, json={"message": "Unknown error: 500"})
            if self.list_count >= self.reveal_at:
                self.hidden.clear()
            return httpx.Response(200, json=self.matching(request, self.hidden))
        session_id = path.rsplit("/", 1)[1]
        if request.method == "GET" and path.startswith("/v1/sessions/"):
            return httpx.Response(200, json=self.sessions[session_id])
        if request.method == "POST" and path.startswith("/v1/sessions/"):
            assert json.loads(request.content)["status"] == "REQUEST_RELEASE"
            if session_id in self.refuse_release:
                return httpx.Response(403, json={"message": "not yours"})
            self.sessions[session_id]["status"] = "COMPLETED"
            return httpx.Response(200, json=self.sessions[session_id])
        return httpx.Response(404)

    def releases(self) -> Counter[str]:
        return Counter(
            raw_path(r).rsplit("/", 1)[1]
            for r in self.requests
            if r.method == "POST" and raw_path(r).startswith("/v1/sessions/")
        )

    def creates(self) -> list[httpx.Request]:
        return self.requests_to("POST", "/v1/sessions")

    def lists(self) -> list[httpx.Request]:
        return self.requests_to("GET", "/v1/sessions")


async def call(hook: BrowserbaseHook, mode: str, name: str, *args: Any) -> Any:
    if mode == "sync":
        return getattr(hook, name)(*args)
    return await getattr(hook, f"a{name}")(*args)


@MODES
async def test_straggler_listed_after_the_recreate_is_ended_with_the_session(
    mode: str, make_hook: Callable[..., BrowserbaseHook], capsys: pytest.CaptureFixture[str]
) -> None:
    # Lists 1 and 2: the lookups (the slow session is not listed yet); 3: the sweep after the re-create;
    # 4: the sweep when the session is ended, which finally sees the straggler.
    api = SlowSessions("slow", "ok", reveal_at=4)
    hook = make_hook(api)
    created = await call(hook, mode, "create_session")
    assert created.id == "s-2"
    assert len(api.creates()) == 2
    assert len(api.lists()) == 3
    assert api.releases() == Counter()

    ended = await call(hook, mode, "end_session", "s-2")
    await hook.aclose()
    assert ended is not None
    assert ended.id == "s-2"
    assert api.releases() == Counter({"s-1": 1, "s-2": 1})
    assert api.sessions["other-1"]["status"] == api.sessions["other-2"]["status"] == "RUNNING"
    assert "s-1" in capsys.readouterr().out

    # Swept once: ending the session again costs no list call and releases nothing else.
    await call(hook, mode, "end_session", "s-2")
    assert len(api.lists()) == 4
    assert api.releases() == Counter({"s-1": 1, "s-2": 2})


@MODES
async def test_straggler_already_listed_after_the_recreate_is_ended_at_once(
    mode: str, make_hook: Callable[..., BrowserbaseHook]
) -> None:
    api = SlowSessions("slow", "ok", reveal_at=3)
    hook = make_hook(api)
    created = await call(hook, mode, "create_session")
    assert created.id == "s-2"
    assert api.releases() == Counter({"s-1": 1})

    await call(hook, mode, "end_session", "s-2")
    await hook.aclose()
    assert api.releases() == Counter({"s-1": 1, "s-2": 1})
    assert api.sessions["other-1"]["status"] == api.sessions["other-2"]["status"] == "RUNNING"


@MODES
async def test_second_lookup_finds_the_slow_session_instead_of_creating_another(
    mode: str, make_hook: Callable[..., BrowserbaseHook]
) -> None:
    api = SlowSessions("slow", reveal_at=2)
    hook = make_hook(api)
    created = await call(hook, mode, "create_session")
    await call(hook, mode, "end_session", created.id)
    await hook.aclose()
    assert created.id == "s-1"
    assert len(api.creates()) == 1
    assert len(api.lists()) == 2
    assert api.releases() == Counter({"s-1": 1})


@MODES
@pytest.mark.parametrize("fates", [(), ("slow",)], ids=["clean", "recovered-at-once"])
async def test_no_resent_create_no_list_on_end(
    mode: str, fates: tuple[str, ...], make_hook: Callable[..., BrowserbaseHook]
) -> None:
    api = SlowSessions(*fates, reveal_at=1)
    hook = make_hook(api)
    created = await call(hook, mode, "create_session")
    lists_after_create = len(api.lists())
    await call(hook, mode, "end_session", created.id)
    await hook.aclose()
    assert len(api.creates()) == 1
    assert len(api.lists()) == lists_after_create == len(fates)
    assert api.releases() == Counter({created.id: 1})


@MODES
@pytest.mark.parametrize("fail_lists_from", [3, 4], ids=["sweeps-fail", "end-sweep-fails"])
async def test_failing_sweep_never_raises(
    mode: str, fail_lists_from: int, make_hook: Callable[..., BrowserbaseHook]
) -> None:
    api = SlowSessions("slow", "ok", reveal_at=3, fail_lists_from=fail_lists_from)
    hook = make_hook(api)
    created = await call(hook, mode, "create_session")
    ended = await call(hook, mode, "end_session", created.id)
    assert ended is not None
    assert ended.status == "COMPLETED"
    assert api.releases()["s-2"] == 1
    lists = len(api.lists())

    # A failed sweep is not forgotten: ending again tries it again.
    await call(hook, mode, "end_session", created.id)
    await hook.aclose()
    assert len(api.lists()) > lists
    assert api.sessions["other-1"]["status"] == api.sessions["other-2"]["status"] == "RUNNING"


@MODES
async def test_straggler_is_ended_even_when_ending_the_session_fails(
    mode: str, make_hook: Callable[..., BrowserbaseHook]
) -> None:
    api = SlowSessions("slow", "ok", reveal_at=4)
    api.refuse_release.add("s-2")
    hook = make_hook(api)
    created = await call(hook, mode, "create_session")
    with pytest.raises(BrowserbasePermissionDeniedError):
        await call(hook, mode, "end_session", created.id)
    await hook.aclose()
    assert api.releases() == Counter({"s-1": 1, "s-2": 1})
    assert api.sessions["s-1"]["status"] == "COMPLETED"
