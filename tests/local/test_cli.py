"""The ``browserbase-local`` command as a user runs it: a ready line, real sessions, a clean exit."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
import websockets.sync.client
from local_helpers import STARTED_DIRS, wait_gone

from airflow_provider_browserbase.local.cli import main

pytestmark = pytest.mark.browser


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


@pytest.mark.parametrize(
    ("stop_signal", "options", "key", "shown"),
    [
        (signal.SIGTERM, ["--api-key", "cli-test-key"], "cli-test-key", "your own"),
        (signal.SIGINT, ["--no-browser"], "bb_local_dev_key", "the default development key"),
    ],
    ids=["SIGTERM-chromium", "SIGINT-no-browser"],
)
def test_cli_prints_ready_line_and_stops_cleanly(
    tmp_path: Path, stop_signal: signal.Signals, options: list[str], key: str, shown: str
) -> None:
    data_dir = tmp_path / "data"
    STARTED_DIRS.append(data_dir / "bb-")
    stale = data_dir / "bb-stale-from-a-killed-server"
    (stale / "profile").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "BROWSERBASE_API_KEY"}
    command = [
        sys.executable,
        "-m",
        "airflow_provider_browserbase.local",
        "--port",
        "0",
        "--max-sessions",
        "2",
    ]
    command += [*options, "--data-dir", str(data_dir), "--log-level", "info"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        first_line = proc.stdout.readline().rstrip("\n")
        expected = (
            rf"^browserbase-local ready at (http://127\.0\.0\.1:\d+) \(api key: {shown}, max sessions 2\)$"
        )
        match = re.match(expected, first_line)
        assert match, (first_line, proc.stderr.read() if proc.poll() is not None else "")
        base_url = match.group(1)
        assert not stale.exists()  # swept at start-up

        with httpx.Client(base_url=base_url, headers={"X-BB-API-Key": key}, timeout=30) as api:
            assert api.get("/health").json()["status"] == "ok"
            created = api.post("/v1/sessions", json={"keepAlive": True})
            assert created.status_code == 201
            assert created.json()["status"] == "RUNNING"
            session_dirs = list(data_dir.glob("bb-*"))
            assert len(session_dirs) == 1
            browsers = processes_using(session_dirs[0])
            assert bool(browsers) == ("--no-browser" not in options)  # a real Chromium, unless API-only
            signing_key = created.json()["signingKey"]
            with websockets.sync.client.connect(created.json()["connectUrl"]) as cdp:
                cdp.send('{"id": 1, "method": "Browser.getVersion"}')
                assert '"id":1' in cdp.recv(timeout=10).replace(" ", "")

        proc.send_signal(stop_signal)
        assert proc.wait(timeout=30) == 0
        assert proc.stdout.read() == ""  # exactly one line on stdout
        assert proc.stderr is not None
        log = proc.stderr.read()
        assert "Session" in log  # info lines were written...
        assert signing_key not in log  # ...but never a connect URL's secret
        assert key not in log  # nor the API key
        for pid in browsers:
            wait_gone(pid)
        assert processes_using(data_dir) == []
        assert list(data_dir.glob("bb-*")) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_without_chromium_explains_how_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-chromium"
    before = set(Path(tempfile.gettempdir()).glob("browserbase-local-*"))
    handler_before = signal.getsignal(signal.SIGTERM)  # not always the default: dag.test() installs one
    assert main(["--port", "0", "--chromium", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    assert set(Path(tempfile.gettempdir()).glob("browserbase-local-*")) <= before  # its temp folder is gone
    assert signal.getsignal(signal.SIGTERM) is handler_before  # handlers restored


def test_cli_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in (["--max-sessions", "0"], ["--pool-size", "-1"], ["--port", "http"], ["--port", "-1"]):
        with pytest.raises(SystemExit) as exited:
            main(bad)
        assert exited.value.code == 2
    assert "--max-sessions" in capsys.readouterr().err


def test_cli_release_delay_reaches_the_server_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_browserbase.local import cli

    seen = {}

    async def fake_serve(config, log_level: str, demo: bool = True) -> int:
        seen["release_delay"] = config.release_delay
        return 0

    monkeypatch.setattr(cli, "_serve", fake_serve)
    assert main(["--port", "0", "--no-browser", "--release-delay", "2.5"]) == 0
    assert seen == {"release_delay": 2.5}
    assert cli.build_parser().parse_args([]).release_delay == 0


@pytest.mark.parametrize("bad", ["-1", "nan", "inf", "soon"])
def test_cli_rejects_bad_release_delay(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--release-delay", bad])
    assert exited.value.code == 2
    assert "--release-delay" in capsys.readouterr().err
