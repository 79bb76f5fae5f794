"""The Playwright operator watches a ``keep_alive`` session it creates from a guard process, only then,
and stops the guard when the task ends (real Chromium through ``browserbase-local``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_browserbase.operators._session_guard import GUARD_MARKER
from airflow_provider_browserbase.operators.playwright import BrowserbasePlaywrightOperator

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_browserbase.local.server import LocalServer


def my_guards() -> list[int]:
    """Guard processes this (test) process started."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == os.getpid() and GUARD_MARKER in (entry / "cmdline").read_bytes().decode():
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


@pytest.mark.parametrize(
    ("arguments", "guarded"),
    [
        ({"keep_alive": True}, True),
        ({}, False),
        ({"keep_alive": True, "end_sessions_on_failure": False}, False),
    ],
)
def test_guard_runs_while_a_keep_alive_session_is_used(
    local_server: LocalServer,
    make_context: Callable[..., dict[str, Any]],
    arguments: dict[str, Any],
    guarded: bool,
) -> None:
    task = BrowserbasePlaywrightOperator(
        task_id="t", python_callable=my_guards, session_timeout=120, **arguments
    )
    during = task.execute(make_context())
    assert bool(during) is guarded
    assert my_guards() == []  # stopped and reaped with the task
