"""Helpers of the reliability tests: the fault server's admin client, leak checks, the connection."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.server import LocalServer

# Distinctive, so a leak into any log or table is found by a plain substring search.
API_KEY = "bb_rel_KEY_9f3c1e7a5b2d4068"
CONN_ID = "browserbase_reliability"
#: Figures for the summary line: faults injected (each survived or failed clearly), bad inputs tried.
FAULT_TALLY = {"injected": 0, "inputs": 0}
CONN_ENV = f"AIRFLOW_CONN_{CONN_ID.upper()}"
RELIABILITY_DAGS = Path(__file__).resolve().parent / "dags"


def conn_json(base_url: str, api_key: str = API_KEY) -> str:
    return json.dumps({"conn_type": "browserbase", "host": base_url, "password": api_key})


class Admin:
    """
    The server's REST and ``/_admin`` endpoints, for setting faults and checking for leaks.

    :param server: a running ``LocalServer`` started with ``enable_admin=True``.
    """

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self.http = httpx.Client(
            base_url=server.base_url, headers={"X-BB-API-Key": server.api_key}, timeout=30
        )

    def fault(self, path: str, method: str = "*", **fields: Any) -> dict[str, Any]:
        response = self.http.post("/_admin/faults", json={"path": path, "method": method, **fields})
        assert response.status_code == 201, response.text
        return response.json()

    def faults(self) -> list[dict[str, Any]]:
        return self.http.get("/_admin/faults").json()

    def clear(self) -> None:
        assert self.http.delete("/_admin/faults").status_code == 204

    def drop_connections(self, session_id: str) -> int:
        return self.http.post(f"/_admin/sessions/{session_id}/drop-connections").json()["dropped"]

    def crash(self, session_id: str) -> int:
        return self.http.post(f"/_admin/sessions/{session_id}/crash").json()["crashed"]

    def sessions(self, **params: str) -> list[dict[str, Any]]:
        return self.http.get("/v1/sessions", params=params).json()

    def status(self, session_id: str) -> str:
        return self.http.get(f"/v1/sessions/{session_id}").json()["status"]

    def running(self) -> list[str]:
        return [s["id"] for s in self.sessions(status="RUNNING")]

    def wait_status(self, session_id: str, wanted: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while (status := self.status(session_id)) != wanted and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status == wanted, f"session {session_id} is {status}, expected {wanted}"

    def assert_no_running(self, timeout: float = 10) -> None:
        """
        No session is RUNNING (a disconnect ends a session a moment after the client left).

        Leftovers are released before the assertion fails, so one leak does not fail the next tests too.
        """
        deadline = time.monotonic() + timeout
        while (running := self.running()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for session_id in running:
            self.http.post(f"/v1/sessions/{session_id}", json={"status": "REQUEST_RELEASE"})
        assert running == [], f"sessions left RUNNING: {running}"

    def close(self) -> None:
        self.http.close()


def pushed(context: dict[str, Any]) -> dict[str, Any]:
    return {call.kwargs["key"]: call.kwargs["value"] for call in context["ti"].xcom_push.call_args_list}
