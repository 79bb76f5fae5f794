"""The guard process ends its watched sessions when the task process's end of the pipe closes without
``done``, against ``browserbase-local --no-browser``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.operators._session_guard import GUARD_MARKER, session_guard, start_guard
from tests.support import connection_uri_env

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_browserbase.local.server import LocalServer

CONN_ID = "browserbase_guard"


@pytest.fixture
def hook(api_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[BrowserbaseHook]:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}", connection_uri_env(api_server.base_url, api_server.api_key)
    )
    with BrowserbaseHook(CONN_ID) as hook:
        yield hook


def status(hook: BrowserbaseHook, session_id: str) -> str:
    return hook.get_session_status(session_id).status


def wait_for_status(hook: BrowserbaseHook, session_id: str, wanted: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while (current := status(hook, session_id)) != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
    return current


def test_a_dead_task_process_gets_its_watched_sessions_ended(hook: BrowserbaseHook) -> None:
    watched, released, other = (hook.create_session(keep_alive=True).id for _ in range(3))
    guard = start_guard(hook)
    assert guard.process is not None
    guard.watch(watched)
    guard.watch(released)
    guard.release(released)
    # What the kernel does when the task process dies: its end of the pipe closes, with no "done".
    assert guard.process.stdin is not None
    guard.process.stdin.close()
    assert guard.process.wait(timeout=30) == 0
    assert wait_for_status(hook, watched, "COMPLETED") == "COMPLETED"
    assert status(hook, released) == status(hook, other) == "RUNNING"
    hook.end_session(released)
    hook.end_session(other)


def command_line(pid: int, timeout: float = 10.0) -> str:
    """The process's command line; empty for a moment while a just-forked child has not yet run exec."""
    deadline = time.monotonic() + timeout
    while True:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        if command or time.monotonic() > deadline:
            return command
        time.sleep(0.05)


def test_done_stops_the_guard_without_ending_anything(hook: BrowserbaseHook, api_server: LocalServer) -> None:
    session_id = hook.create_session(keep_alive=True).id
    with session_guard(hook) as guard:
        process = guard.process
        assert process is not None
        guard.watch(session_id)
        command = command_line(process.pid)
        assert GUARD_MARKER in command
        assert api_server.api_key not in command  # the key goes through the pipe
    assert process.returncode == 0
    assert status(hook, session_id) == "RUNNING"
    hook.end_session(session_id)


def test_a_disabled_guard_starts_no_process(hook: BrowserbaseHook) -> None:
    with session_guard(hook, enabled=False) as guard:
        assert guard.process is None
        guard.watch("anything")  # no-op
