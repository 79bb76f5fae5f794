"""Helpers shared by the AI tests."""

from __future__ import annotations

from typing import Any


def session_statuses() -> dict[str, str]:
    """Every session of the server, id to status."""
    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

    return {s.id: s.status for s in BrowserbaseHook().list_sessions()}


def new_sessions(before: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in session_statuses().items() if k not in before}
