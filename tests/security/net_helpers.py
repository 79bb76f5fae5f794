"""Helpers of the security tests: servers with small limits, raw sockets, zip and multipart builders."""

from __future__ import annotations

import io
import json
import socket
import zipfile
from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_browserbase.local.config import ServerLimits
from airflow_provider_browserbase.local.server import LocalServer

if TYPE_CHECKING:
    from collections.abc import Iterable

API_KEY = "bb_security_test_key"
KiB = 2**10

SMALL_LIMITS = ServerLimits(
    max_body_size=16 * KiB,
    max_upload_size=64 * KiB,
    max_extension_size=32 * KiB,
    max_extension_unpacked_size=256 * KiB,
    max_extension_files=50,
    max_ws_message_size=64 * KiB,
    # Short, yet long enough that a loaded CI machine does not trip them in the other tests.
    header_timeout=2.0,
    body_timeout=2.0,
    max_connections=64,
    max_contexts=3,
    max_extensions=2,
)


def start_server(**options: Any) -> LocalServer:
    options.setdefault("no_browser", True)
    options.setdefault("demo", False)
    return LocalServer(port=0, api_key=API_KEY, **options).start()


def client(server: LocalServer, **headers: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url, headers={"X-BB-API-Key": server.api_key, **headers}, timeout=30
    )


def raw_request(server: LocalServer, data: bytes, timeout: float = 10.0) -> bytes:
    """
    Send ``data`` on a fresh connection; return everything the server answers until it closes.

    A reset (the server closed while data was still unread) ends the answer too.
    """
    chunks = []
    with socket.create_connection(("127.0.0.1", server.config.port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, BrokenPipeError):
            pass
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def manifest(**extra: Any) -> bytes:
    return json.dumps({"manifest_version": 3, "name": "test", "version": "1.0", **extra}).encode()


def extension_zip(entries: Iterable[tuple[str, bytes]], *, with_manifest: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if with_manifest:
            archive.writestr("manifest.json", manifest())
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def create_session(api: httpx.Client, **body: Any) -> dict[str, Any]:
    created = api.post("/v1/sessions", json=body)
    assert created.status_code == 201, created.text
    return created.json()
