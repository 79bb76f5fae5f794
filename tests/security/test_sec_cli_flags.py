"""
The command's flags: every number is checked with a clear message and exit code 2 (no traceback), the
same rules hold for the in-process server, a non-loopback host needs its own key, the API key is never
printed, and every flag is documented.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_browserbase.local.cli import build_parser
from airflow_provider_browserbase.local.config import LocalConfig, ServerLimits
from airflow_provider_browserbase.local.server import LocalServer

COMMAND = [sys.executable, "-m", "airflow_provider_browserbase.local"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "BROWSERBASE_API_KEY"}
    environment.update(env or {})
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=120, env=environment, check=False
    )


BAD_FLAGS = [
    (["--port", "-1"], "--port", "0 to 65535"),
    (["--port", "70000"], "--port", "0 to 65535"),
    (["--port", "http"], "--port", "not a whole number"),
    (["--connect-deadline", "-5"], "--connect-deadline", "more than 0"),
    (["--connect-deadline", "nan"], "--connect-deadline", "finite"),
    (["--connect-deadline", "0"], "--connect-deadline", "more than 0"),
    (["--cdp-idle-timeout", "-1"], "--cdp-idle-timeout", "0 or more"),
    (["--cdp-idle-timeout", "inf"], "--cdp-idle-timeout", "finite"),
    (["--release-delay", "nan"], "--release-delay", "finite"),
    (["--max-sessions", "0"], "--max-sessions", "at least 1"),
    (["--pool-size", "-1"], "--pool-size", "0 or more"),
    (["--creations-per-minute", "1.5"], "--creations-per-minute", "whole number"),
    (["--max-upload-size", "0"], "--max-upload-size", "at least 1 byte"),
    (["--max-body-size", "lots"], "--max-body-size", "not a size"),
    (["--max-ws-message-size=-5M"], "--max-ws-message-size", "not a size"),
    (["--header-timeout", "0"], "--header-timeout", "more than 0"),
    (["--body-timeout", "nan"], "--body-timeout", "finite"),
    (["--max-connections", "0"], "--max-connections", "at least 1"),
    (["--max-contexts", "-3"], "--max-contexts", "at least 1"),
    (["--ended-retention", "-1"], "--ended-retention", "more than 0"),
    (["--max-ended-sessions", "0"], "--max-ended-sessions", "at least 1"),
]


@pytest.mark.parametrize(("args", "flag", "rule"), BAD_FLAGS, ids=[" ".join(a) for a, _, _ in BAD_FLAGS])
def test_a_bad_number_exits_2_with_a_message(args: list[str], flag: str, rule: str) -> None:
    result = run(*args, "--no-browser")
    assert result.returncode == 2, result.stderr
    # The usage line names every flag: the error line itself must name this one (its typed parser).
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("browserbase-local: error: argument "), error
    assert flag in error
    assert rule in error
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--host", "0.0.0.0"], {}),  # noqa: S104
        (["--host", "::"], {}),
        (["--host", "0.0.0.0"], {"BROWSERBASE_API_KEY": "bb_local_dev_key"}),  # noqa: S104
    ],
)
def test_a_non_loopback_host_with_the_default_key_is_refused(args: list[str], env: dict[str, str]) -> None:
    result = run(*args, "--port", "0", "--no-browser", env=env)
    assert result.returncode == 2
    assert "--api-key" in result.stderr
    assert "BROWSERBASE_API_KEY" in result.stderr
    assert "default API key" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("options", "env", "wording"),
    [
        (["--api-key", "sk-cli-secret-9f2e"], {}, "your own"),
        ([], {"BROWSERBASE_API_KEY": "sk-env-secret-77c1"}, "your own"),
        ([], {}, "the default development key"),
    ],
    ids=["flag", "environment", "default"],
)
def test_the_ready_line_never_prints_the_api_key(
    tmp_path: Path, options: list[str], env: dict[str, str], wording: str
) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "BROWSERBASE_API_KEY"}
    environment.update(env)
    command = [*COMMAND, "--port", "0", "--no-browser", "--no-demo", "--log-level", "info", *options]
    command += ["--data-dir", str(tmp_path / "data")]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("browserbase-local ready at http://127.0.0.1:"), line
        assert f"(api key: {wording}," in line
    finally:
        proc.terminate()
        _, errors = proc.communicate(timeout=60)
    for secret in ("sk-cli-secret-9f2e", "sk-env-secret-77c1", "bb_local_dev_key"):
        assert secret not in line
        assert secret not in errors


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"port": -1}, "port"),
        ({"port": 70000}, "port"),
        ({"connect_deadline": -5}, "connect_deadline"),
        ({"connect_deadline": float("nan")}, "connect_deadline"),
        ({"cdp_idle_timeout": -1}, "cdp_idle_timeout"),
        ({"max_sessions": 0}, "max_sessions"),
        ({"pool_size": -1}, "pool_size"),
        ({"timeout_scale": 0}, "timeout_scale"),
        ({"max_sessions": True}, "max_sessions"),
    ],
)
def test_the_in_process_server_checks_the_same_rules(options: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        LocalServer(**options)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"max_upload_size": 0}, "max_upload_size"),
        ({"header_timeout": float("nan")}, "header_timeout"),
        ({"body_timeout": -1}, "body_timeout"),
        ({"max_extension_files": 2.5}, "max_extension_files"),
        ({"ended_retention": float("inf")}, "ended_retention"),
    ],
)
def test_limits_check_their_values(options: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ServerLimits(**options)


def test_a_config_with_its_own_key_may_bind_everywhere() -> None:
    assert not LocalConfig(host="0.0.0.0", api_key="own-key").uses_default_key  # noqa: S104


def test_every_flag_is_on_the_local_server_page() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "local-server.md").read_text()
    flags = [
        option
        for action in build_parser()._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]
    assert "--max-cdp-backlog" in flags
    assert [flag for flag in flags if flag not in page] == []
