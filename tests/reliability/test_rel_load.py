"""
Under load: 50 concurrent creates against ``--max-sessions 4`` get exactly 4 sessions and 46 answers 429
with the limit headers; the server's memory returns to its baseline once every session ended, and no
session folder is left. The server runs as its own process (the CLI) so its RSS can be measured.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from reliability_helpers import API_KEY, Admin
from support import chromium_pids

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_browserbase.local.server import LocalServer

LIMIT = 4
CONCURRENT = 50


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "airflow_provider_browserbase.local", "--port", "0", "--no-browser",
            "--max-sessions", str(LIMIT), "--api-key", API_KEY, "--data-dir", str(data_dir), "--no-demo",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "ready at" in line, line
        base_url = line.split("ready at ")[1].split()[0]
        yield process, base_url, data_dir
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def create_burst(base_url: str, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count)
    headers = {"X-BB-API-Key": API_KEY}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=60) as client:
        return list(await asyncio.gather(*(client.post("/v1/sessions", json={}) for _ in range(count))))


def check_burst(responses: list[httpx.Response], limit: int) -> list[str]:
    created = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code == 429]
    assert len(created) == limit, sorted(r.status_code for r in responses)
    assert len(refused) == len(responses) - limit
    for response in refused:
        headers = response.headers
        assert headers["x-ratelimit-limit"] == str(limit)
        assert headers["x-ratelimit-remaining"] == "0"
        assert int(headers["retry-after"]) >= 1
        assert int(headers["x-ratelimit-reset"]) >= 1
        assert headers["x-should-retry"] == "false"
        assert headers["x-request-id"]
        assert "concurrent sessions" in response.json()["message"]
    return [r.json()["id"] for r in created]


def release_all(base_url: str, ids: list[str]) -> None:
    with httpx.Client(base_url=base_url, headers={"X-BB-API-Key": API_KEY}, timeout=30) as client:
        for session_id in ids:
            assert client.post(f"/v1/sessions/{session_id}", json={"status": "REQUEST_RELEASE"}).is_success
        assert client.get("/v1/sessions", params={"status": "RUNNING"}).json() == []


def test_fifty_concurrent_creates_against_four_slots(
    server_process: tuple[subprocess.Popen[str], str, Path],
) -> None:
    process, base_url, data_dir = server_process
    # Warm up first (imports, caches, connection handling), so the baseline is the steady state.
    for _ in range(2):
        release_all(base_url, check_burst(asyncio.run(create_burst(base_url, CONCURRENT)), LIMIT))
    baseline = rss_kib(process.pid)
    rounds = 6
    for _ in range(rounds):
        ids = check_burst(asyncio.run(create_burst(base_url, CONCURRENT)), LIMIT)
        release_all(base_url, ids)
    time.sleep(0.5)  # teardowns run in the background
    after = rss_kib(process.pid)
    # Each round holds 4 sessions and 50 connections; what is left after the end must not grow per round.
    assert after - baseline < 8 * 1024, f"RSS grew from {baseline} KiB to {after} KiB over {rounds} rounds"

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    left = [p.relative_to(data_dir) for p in data_dir.rglob("*")] if data_dir.exists() else []
    sessions_left = [p for p in left if p.parts[0] not in ("contexts", "extensions")]
    assert sessions_left == [], f"session folders left after the server stopped: {sessions_left[:10]}"


def test_concurrent_creates_with_real_browsers(chromium_server: LocalServer, chromium_admin: Admin) -> None:
    responses = asyncio.run(create_burst(chromium_server.base_url, 10))
    ids = check_burst(responses, LIMIT)
    assert len(chromium_pids(chromium_server.data_dir)) >= LIMIT  # one browser (and helpers) each
    folders = {chromium_server.data_dir / p.name for p in chromium_server.data_dir.iterdir()}
    release_all(chromium_server.base_url, ids)
    deadline = time.monotonic() + 20
    while chromium_pids(chromium_server.data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert chromium_pids(chromium_server.data_dir) == set()
    # Only the downloads and recordings of ended sessions stay (served after the end, as Browserbase
    # does); the rest
    # of a session's folder goes in the background once its browser is gone.
    leftovers: list[Any] = []
    deadline = time.monotonic() + 20
    while True:
        leftovers = [
            p
            for folder in folders
            if folder.is_dir()
            for p in folder.iterdir()
            if p.name not in ("downloads", "recording")
        ]
        if not leftovers or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert leftovers == [], leftovers
