"""
Fixtures and helpers shared by the ``test_sec_browser_*`` tests (browsers, live view, CDP rules).

Test modules load the fixtures with ``pytest_plugins = ["browser_helpers"]``: this folder's ``conftest.py``
belongs to the other security tests.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import websockets.sync.client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_helpers import client, start_server, wait_for_status

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx

    from airflow_provider_browserbase.local.server import LocalServer

__all__ = [
    "answer",
    "browser_api",
    "browser_server",
    "cdp",
    "new_session",
    "not_reading_client",
    "raw_get",
    "release",
    "wait_for_status",
]


@pytest.fixture(scope="module")
def browser_server() -> Iterator[LocalServer]:
    running = start_server(max_sessions=3)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def browser_api(browser_server: LocalServer) -> Iterator[httpx.Client]:
    with client(browser_server) as http:
        yield http


def new_session(browser_api: httpx.Client, **body: Any) -> dict[str, Any]:
    created = browser_api.post("/v1/sessions", json={"timeout": 600, "keepAlive": True, **body})
    assert created.status_code == 201, created.text
    return created.json()


def release(browser_api: httpx.Client, session_id: str) -> None:
    browser_api.post(f"/v1/sessions/{session_id}", json={"status": "REQUEST_RELEASE"})
    wait_for_status(browser_api, session_id, "COMPLETED")


def answer(
    ws: websockets.sync.client.ClientConnection, call_id: int, timeout: float = 15.0
) -> dict[str, Any]:
    """The answer to command ``call_id``, skipping events."""
    deadline = time.monotonic() + timeout
    while True:
        reply = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if reply.get("id") == call_id:
            return reply


def cdp(
    ws: websockets.sync.client.ClientConnection, call_id: int, method: str, **params: Any
) -> dict[str, Any]:
    """Send one command (``sessionId`` as a keyword goes on the message) and return its answer."""
    message: dict[str, Any] = {"id": call_id, "method": method, "params": params}
    if "sessionId" in params:
        message["sessionId"] = params.pop("sessionId")
    ws.send(json.dumps(message))
    return answer(ws, call_id)


def raw_get(base_url: str, raw_path: str) -> tuple[int, str]:
    """GET ``raw_path`` exactly as written (no client normalises ``..`` or percent-escapes away)."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(f"GET {raw_path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(errors="replace")


def not_reading_client(url: str) -> websockets.sync.client.ClientConnection:
    """
    A CDP client whose socket takes little: once it stops reading, answers pile up in the server.

    Without compression (Playwright's CDP client does not compress either): compressed, the test's
    repetitive answers would be tiny on the wire.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 2**10)  # no autotuning to megabytes
    parts = urlsplit(url)
    sock.connect((parts.hostname, parts.port))
    return websockets.sync.client.connect(
        url, sock=sock, max_size=None, max_queue=1, compression=None, open_timeout=10
    )
