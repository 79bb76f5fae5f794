"""The ``browserbase-local`` command as a user runs it: a ready line, real sessions, a clean exit."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from local_helpers import STARTED_DIRS, wait_gone

pytestmark = pytest.mark.browser

READY = re.compile(
    r"^browserbase-local ready at (http://127\.0\.0\.1:\d+) \(api key: cli-test-key, max sessions 2\)$"
)


def processes_using(folder: Path) -> list[int]:
    """Live (non-zombie) processes whose command line names ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and str(folder).encode() in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_ready_line_and_stops_cleanly(tmp_path: Path, stop_signal: signal.Signals) -> None:
    data_dir = tmp_path / "data"
    STARTED_DIRS.append(data_dir / "bb-")
    stale = data_dir / "bb-stale-from-a-killed-server"
    (stale / "profile").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "BROWSERBASE_API_KEY"}
    command = [sys.executable, "-m", "airflow_provider_browserbase.local", "--port", "0"]
    command += ["--api-key", "cli-test-key", "--max-sessions", "2", "--data-dir", str(data_dir)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        first_line = proc.stdout.readline().rstrip("\n")
        match = READY.match(first_line)
        assert match, (first_line, proc.stderr.read() if proc.poll() is not None else "")
        base_url = match.group(1)
        assert not stale.exists()  # swept at start-up

        with httpx.Client(base_url=base_url, headers={"X-BB-API-Key": "cli-test-key"}, timeout=30) as api:
            assert api.get("/health").json()["status"] == "ok"
            created = api.post("/v1/sessions", json={"keepAlive": True})
            assert created.status_code == 201
            session_dirs = list(data_dir.glob("bb-*"))
            assert len(session_dirs) == 1
            browsers = processes_using(session_dirs[0])
            assert browsers  # a real Chromium runs for the session

        proc.send_signal(stop_signal)
        assert proc.wait(timeout=30) == 0
        for pid in browsers:
            wait_gone(pid)
        assert processes_using(data_dir) == []
        assert list(data_dir.glob("bb-*")) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_without_chromium_explains_how_to_install(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-chromium"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_provider_browserbase.local",
            "--port",
            "0",
            "--chromium",
            str(missing),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert str(missing) in result.stderr


def test_no_browser_cli_serves_api_only_sessions(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "airflow_provider_browserbase.local", "--port", "0", "--no-browser"]
    env = {k: v for k, v in os.environ.items() if k != "BROWSERBASE_API_KEY"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "api key: bb_local_dev_key" in line
        base_url = line.split(" ready at ", 1)[1].split(" ", 1)[0]
        started = time.monotonic()
        with httpx.Client(base_url=base_url, headers={"X-BB-API-Key": "bb_local_dev_key"}) as api:
            session = api.post("/v1/sessions", json={}).json()
            assert session["status"] == "RUNNING"
            assert api.get("/v1/sessions").json()[0]["id"] == session["id"]
        assert time.monotonic() - started < 30
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
