"""
Fixtures for the AI tests: real ``browserbase-local`` and Chromium, real Airflow and common-ai; only the
model is scripted (``scripted_models.py``, ``scripted_openai.py``).

These tests need the ``ai`` extra (apache-airflow-providers-common-ai), which needs Python 3.11. It
declares ``apache-airflow>=2.11``, so it supports every Airflow this provider does: the tests run on the
Airflow 3.1 lane too, and are skipped only on Python 3.10, where the extra cannot be installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.server import LocalServer


@pytest.fixture
def demo_url(local_server: LocalServer) -> str:
    return f"{local_server.base_url}/demo"
