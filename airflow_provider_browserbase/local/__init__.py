"""``browserbase-local``: a Browserbase-compatible REST API served on this machine by headless Chromium."""

from __future__ import annotations

from airflow_provider_browserbase.local.config import DEV_API_KEY, LocalConfig
from airflow_provider_browserbase.local.server import LocalServer

__all__ = ["DEV_API_KEY", "LocalConfig", "LocalServer"]
