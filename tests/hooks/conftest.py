"""Fixtures for the hook tests: the connection from ``AIRFLOW_CONN_*``, a fake clock, a scripted API and a
hook on it (the fakes themselves live in ``hook_helpers``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from tests.hooks.hook_helpers import CONN_ID, PROJECT_ID, FakeClock, ScriptedApi, connection_json

if TYPE_CHECKING:
    from collections.abc import Callable


@pytest.fixture(autouse=True)
def browserbase_conn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", connection_json(project_id=PROJECT_ID))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api() -> ScriptedApi:
    return ScriptedApi()


@pytest.fixture
def make_hook(clock: FakeClock) -> Callable[..., BrowserbaseHook]:
    hooks: list[BrowserbaseHook] = []

    def make(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> BrowserbaseHook:
        transport = httpx.MockTransport(handler)
        hook = BrowserbaseHook(transport=transport, async_transport=transport, **kwargs)
        hook._sleep = clock.sleep
        hook._asleep = clock.asleep
        hook._clock = clock
        hook._random = lambda: 0.0
        hooks.append(hook)
        return hook

    yield make
    for hook in hooks:
        hook.close()


@pytest.fixture
def hook(make_hook: Callable[..., BrowserbaseHook], api: ScriptedApi) -> BrowserbaseHook:
    return make_hook(api)
