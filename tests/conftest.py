"""
Shared test set-up.

Airflow reads its configuration once, at import, so the environment is set here, before any test module
imports Airflow: a throw-away ``AIRFLOW_HOME`` (removed at the end), no example DAGs, and two DAG bundles
(the project's ``example_dags/`` and ``tests/dags/``) so that ``dag.test()`` finds the DAGs it serializes.

Fixtures:
- ``airflow_db``: runs ``airflow db migrate`` once per session, for tests that run DAGs.
- ``local_server``: one ``browserbase-local`` with real Chromium for the session, wired to the
  ``browserbase_default`` connection through ``AIRFLOW_CONN_BROWSERBASE_DEFAULT``.
- ``api_server``: one ``browserbase-local --no-browser`` (API-only sessions) for the session.
- ``pw``: one Playwright driver per module (starting it costs about a second), its temp files kept apart.
- ``driver_tmp``: the temp folder of the Playwright drivers a test starts, to see what they leave there.

At the end of the session, a Chromium process or a temporary folder that the tests started and left
behind fails the run (strict when ``CI`` is set; a warning otherwise, since other work may share /tmp).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest
from support import (
    TEST_API_KEY,
    chromium_pids,
    connection_uri_env,
    default_connection_to,
    playwright_driver,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from playwright.sync_api import Playwright

    from airflow_provider_browserbase.local.server import LocalServer

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DAGS = REPO / "example_dags"
TEST_DAGS = REPO / "tests" / "dags"

# Set up once per process: a second import of this file under another module name must not make a
# second AIRFLOW_HOME (Airflow keeps the first one it read), so the home is remembered with the pid.
if os.environ.get("BBP_TEST_AIRFLOW_HOME_PID") == str(os.getpid()):
    _AIRFLOW_HOME = Path(os.environ["AIRFLOW_HOME"])
else:
    _AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="bbp-airflow-home-"))
    os.environ["BBP_TEST_AIRFLOW_HOME_PID"] = str(os.getpid())
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(EXAMPLE_DAGS)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__TEST_CONNECTION"] = "Enabled"
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
    [
        {
            "name": "dags-folder",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(EXAMPLE_DAGS)},
        },
        {
            "name": "test-dags",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(TEST_DAGS)},
        },
    ]
)
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
# CI and the test containers run as root: browserbase-local refuses that unless told (see check_root).
os.environ.setdefault("BROWSERBASE_LOCAL_NO_SANDBOX_AS_ROOT", "1")


# ---------------------------------------------------------------------------------------------------------
# Leak check: Chromium processes and temp folders the tests leave behind
# ---------------------------------------------------------------------------------------------------------

_TEMP_PREFIXES = (
    "bb-",
    "bbp-",
    "browserbase-local",
    "org.chromium.",
    "playwright-artifacts-",
    ".org.chromium.",
    "pw-driver-",
)


def _temp_entries() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).iterdir() if p.name.startswith(_TEMP_PREFIXES)}


_BEFORE: dict[str, set] = {}
# The test after which each temp entry was first seen: a leak the check reports names where to look (a leak
# that happens one run in several cannot be found again by running the tests once more).
_FIRST_SEEN: dict[str, str] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    # Only browsers whose profile lies under this run's temp folder: parallel runs with their own TMPDIR
    # (several developers on one machine) do not see each other's browsers as leaks.
    _BEFORE["pids"] = chromium_pids(tempfile.gettempdir())
    _BEFORE["temp"] = _temp_entries()


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    for name in _temp_entries() - _BEFORE.get("temp", set()):
        _FIRST_SEEN.setdefault(name, nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)
    deadline = time.monotonic() + 10
    while True:
        pids = chromium_pids(tempfile.gettempdir()) - _BEFORE.get("pids", set())
        temps = _temp_entries() - _BEFORE.get("temp", set())
        if not (pids or temps) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if not (pids or temps):
        return
    where = [f"{name} (first seen after {_FIRST_SEEN.get(name, 'the last test')})" for name in sorted(temps)]
    message = (
        f"LEAK CHECK: the tests left {len(pids)} Chromium process(es) {sorted(pids)} and "
        f"{len(temps)} temp folder(s) {where} behind"
    )
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(message, red=True)
    else:
        print(message, file=sys.stderr)
    if os.environ.get("CI"):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# ---------------------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """An Airflow metadata database in the session's ``AIRFLOW_HOME`` (``airflow db migrate``, ≈10 s)."""
    marker = _AIRFLOW_HOME / ".migrated"
    if not marker.exists():
        airflow = Path(sys.executable).with_name("airflow")
        result = subprocess.run(
            [str(airflow), "db", "migrate"],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            check=False,
        )
        assert result.returncode == 0, (
            f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
        marker.touch()
    return _AIRFLOW_HOME


def _start_server(**options: object) -> LocalServer:
    from airflow_provider_browserbase.local.server import LocalServer

    return LocalServer(host="127.0.0.1", port=0, api_key=TEST_API_KEY, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalServer]:
    """``browserbase-local`` with real Chromium for the session; ``browserbase_default`` points at it."""
    with _start_server(max_sessions=4, pool_size=0) as server, default_connection_to(server):
        yield server


@pytest.fixture(scope="session")
def api_server() -> Iterator[LocalServer]:
    """``browserbase-local --no-browser``: API-only sessions, for API and trigger tests."""
    with _start_server(max_sessions=50, no_browser=True) as server:
        yield server


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by what they need, so the Airflow 3.1 run can select the unit tests alone."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        path = Path(str(item.path))
        if "local_server" in fixtures or (REPO / "tests" / "local") in path.parents:
            item.add_marker(pytest.mark.browser)
        if "airflow_db" in fixtures:
            item.add_marker(pytest.mark.dag)


@pytest.fixture(scope="module")
def pw() -> Iterator[Playwright]:
    with playwright_driver() as playwright:
        yield playwright


@pytest.fixture
def driver_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """
    An empty folder that Playwright drivers started in this test take as their temp folder (``TMPDIR``, read
    when a driver starts); Python's ``tempfile`` keeps the folder it already chose.
    """
    folder = tmp_path / "driver-tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def quick_server() -> Iterator[LocalServer]:
    """API-only ``browserbase-local`` whose session timeouts run 100 times faster (60 s -> 0.6 s)."""
    with _start_server(no_browser=True, max_sessions=20, timeout_scale=0.01) as server:
        yield server


@pytest.fixture
def quick_conn(quick_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A connection id (``browserbase_quick``) pointing at :func:`quick_server`."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_BROWSERBASE_QUICK", connection_uri_env(quick_server.base_url, quick_server.api_key)
    )
    return "browserbase_quick"


@pytest.fixture
def make_context() -> Callable[..., dict[str, Any]]:
    """A task context whose ``ti`` is a mock recording XCom pushes; ``ti`` fields can be overridden."""

    def make(**ti_fields: Any) -> dict[str, Any]:
        ti = mock.MagicMock()
        fields = {
            "dag_id": "dag",
            "task_id": "task",
            "run_id": "manual__2026",
            "try_number": 1,
            "map_index": -1,
        }
        fields.update(ti_fields)
        for name, value in fields.items():
            setattr(ti, name, value)
        return {"ti": ti, "params": {}, "dag_id": fields["dag_id"], "run_id": fields["run_id"]}

    return make
