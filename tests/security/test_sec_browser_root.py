"""Browsers never start as root (Chromium without its sandbox) unless the operator says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_browserbase.local import chromium
from airflow_provider_browserbase.local.chromium import RunningAsRootError, check_root
from airflow_provider_browserbase.local.config import NO_SANDBOX_AS_ROOT_ENV, LocalConfig

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("euid", "allowed", "refused"), [(0, False, True), (0, True, False), (1000, False, False)]
)
def test_root_needs_the_explicit_flag(
    monkeypatch: pytest.MonkeyPatch, euid: int, allowed: bool, refused: bool
) -> None:
    monkeypatch.setattr(chromium.os, "geteuid", lambda: euid)
    if refused:
        with pytest.raises(
            RunningAsRootError, match=r"--no-sandbox-as-root \(BROWSERBASE_LOCAL_NO_SANDBOX_AS_ROOT=1\)"
        ):
            check_root(allowed)
    else:
        check_root(allowed)


@pytest.mark.parametrize(("value", "allowed"), [("1", True), ("0", False), ("", False), ("yes", False)])
def test_the_environment_variable_sets_the_default(
    monkeypatch: pytest.MonkeyPatch, value: str, allowed: bool
) -> None:
    monkeypatch.setenv(NO_SANDBOX_AS_ROOT_ENV, value)
    assert LocalConfig().no_sandbox_as_root is allowed


@pytest.mark.skipif(os.geteuid() != 0, reason="the refusal is about running as root")
def test_the_command_refuses_root_with_a_clear_message_and_accepts_the_flag(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != NO_SANDBOX_AS_ROOT_ENV}
    env["PYTHONPATH"] = str(REPO)
    argv = [sys.executable, "-m", "airflow_provider_browserbase.local", "--port", "0", "--no-demo"]
    argv += ["--data-dir", str(tmp_path)]
    refused = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 2
    assert "refusing to start browsers as root" in refused.stderr
    assert "--no-sandbox-as-root" in refused.stderr
    # API-only sessions start no browser: nothing to refuse.
    proc = subprocess.Popen([*argv, "--no-browser"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("browserbase-local ready at ")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
