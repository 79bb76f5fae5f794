"""Values and helpers shared by test modules (import from here, never from ``conftest``: importing a
conftest under a second name would run its set-up twice)."""

from __future__ import annotations

import json

TEST_API_KEY = "bb_test_key_for_the_suite"


def connection_uri_env(base_url: str, api_key: str, project_id: str | None = None) -> str:
    """The JSON form of a ``browserbase`` connection, for an ``AIRFLOW_CONN_*`` variable."""
    conn: dict[str, object] = {"conn_type": "browserbase", "host": base_url, "password": api_key}
    if project_id:
        conn["extra"] = {"project_id": project_id}
    return json.dumps(conn)
