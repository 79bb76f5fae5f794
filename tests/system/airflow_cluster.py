"""
A real Airflow 3 deployment for the system test: scheduler, DAG processor, triggerer and API server.

Each component is Airflow's own CLI command, started as a subprocess in a process group of its own, with
its output in ``<home>/process-logs/<name>.log``. :meth:`AirflowCluster.stop` ends every group by pid
(SIGTERM, then SIGKILL after a grace period), so the task supervisors and API workers they fork go too.

Choices, checked against Airflow 3.3.2:

- **LocalExecutor on SQLite.** Airflow 3 has no SequentialExecutor any more (``airflow/executors/`` holds
  only ``local_executor.py``), LocalExecutor is the default, and nothing refuses it on SQLite (it is what
  ``airflow standalone`` runs). SQLite allows one writer at a time, so parallelism stays small; that is
  enough for one DAG run and needs no database server in CI.
- **SimpleAuthManager with ``simple_auth_manager_all_admins``.** Its middleware adds an admin token to
  every request, so the REST calls and the browser need no login; ``/auth/token/login`` sets the UI cookie.
- **Shared JWT secret and Execution API URL.** Task processes talk to the API server's Execution API with
  tokens the scheduler signs, so every process gets the same ``[api_auth] jwt_secret`` and
  ``[core] execution_api_server_url`` pointing at the API server's port.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from cryptography.fernet import Fernet

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

AIRFLOW = Path(sys.executable).with_name("airflow")
# The scheduler and triggerer would serve logs on fixed ports (8793/8794) on every interface; the API
# server reads the log files of this one machine directly, so those servers stay off.
COMPONENTS: dict[str, tuple[str, ...]] = {
    "api-server": ("api-server",),
    "dag-processor": ("dag-processor",),
    "scheduler": ("scheduler", "--skip-serve-logs"),
    "triggerer": ("triggerer", "--skip-serve-logs"),
}
STOP_GRACE_SECONDS = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, chars: int = 4000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as err:
        return f"<cannot read {path}: {err}>"
    return text[-chars:]


class ClusterError(AssertionError):
    """The deployment did not do what the test waited for; the message carries the relevant logs."""


class AirflowCluster:
    """
    Start, drive and stop Airflow's own components on a temporary ``AIRFLOW_HOME``.

    :param home: the ``AIRFLOW_HOME`` (created by the caller, removed by the caller).
    :param bundles: DAG bundle name → folder, parsed by the DAG processor.
    :param extra_env: more environment for every component (e.g. ``AIRFLOW_CONN_*``).
    """

    def __init__(self, home: Path, bundles: Mapping[str, Path], extra_env: Mapping[str, str]) -> None:
        self.home = home
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_dir = home / "process-logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.env = self._environment(bundles, extra_env)
        self.client = httpx.Client(base_url=self.base_url, timeout=30.0)
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Record how long ``phase`` took (reported in ``test-artifacts/system/timings.txt``)."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[phase] = round(time.monotonic() - started, 1)

    def _environment(self, bundles: Mapping[str, Path], extra_env: Mapping[str, str]) -> dict[str, str]:
        # The pytest process has its own AIRFLOW_HOME and settings (tests/conftest.py); none of them leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        bundle_list = [
            {
                "name": name,
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(path)},
            }
            for name, path in bundles.items()
        ]
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(next(iter(bundles.values()))),
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
                # Trigger kwargs are stored encrypted; every process must hold the same key.
                "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
                "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundle_list),
                # Parse once at start and rarely afterwards: re-parsing competes with the run for 2 cores.
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "600",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
                "PYTHONUNBUFFERED": "1",
                "NO_COLOR": "1",
            }
        )
        env.update(extra_env)
        return env

    # -----------------------------------------------------------------------------------------------------
    # Processes
    # -----------------------------------------------------------------------------------------------------

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def run_cli(self, *args: str, timeout: float = 180) -> str:
        """Run one ``airflow`` command to completion (e.g. ``db migrate``) and return its output."""
        result = subprocess.run(
            [str(AIRFLOW), *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise ClusterError(
                f"airflow {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with self.log_path(name).open("ab") as log:
            process = subprocess.Popen(
                [str(AIRFLOW), *args],
                env=self.env,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.processes[name] = process
        return process

    def start_all(self) -> None:
        for name, args in COMPONENTS.items():
            self.start(name, *args)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise ClusterError(
                    f"airflow {name} (pid {process.pid}) exited with {process.returncode}:\n"
                    f"{tail(self.log_path(name))}"
                )

    def stop(self) -> dict[str, str]:
        """Stop every component's process group by pid: SIGTERM, then SIGKILL. Returns how each ended."""
        outcome: dict[str, str] = {}
        for process in self.processes.values():
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
                outcome[name] = f"exited {process.returncode} on SIGTERM"
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
                outcome[name] = "killed with SIGKILL"
            # The leader may exit before the children it forked (LocalExecutor workers, task supervisors).
            _signal_group(process.pid, signal.SIGKILL)
        self.client.close()
        return outcome

    def group_members(self) -> list[int]:
        """Pids still alive in the components' process groups (should be empty after :meth:`stop`)."""
        groups = {p.pid for p in self.processes.values()}
        alive = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) in groups:
                alive.append(int(entry.name))
        return alive

    # -----------------------------------------------------------------------------------------------------
    # Waiting
    # -----------------------------------------------------------------------------------------------------

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
        """Call ``check`` until it returns something truthy; fail with the component logs on timeout."""
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                result = check()
            except (httpx.HTTPError, KeyError, ValueError) as err:
                last_error, result = err, None
            if result:
                return result
            time.sleep(interval)
        raise ClusterError(
            f"timed out after {timeout:.0f} s waiting for {what} ({last_error!r})\n{self.logs()}"
        )

    def logs(self, chars: int = 2500) -> str:
        return "\n".join(
            f"----- airflow {name} (last {chars} chars) -----\n{tail(self.log_path(name), chars)}"
            for name in self.processes
        )

    def login(self, username: str = "admin") -> str:
        """
        Log the REST client in with the password SimpleAuthManager generated (when not all-admins).

        Returns the password, read where ``airflow standalone`` tells users to find it.
        """
        password_file = self.home / "simple_auth_manager_passwords.json.generated"
        password = str(json.loads(password_file.read_text())[username])
        response = self.client.post("/auth/token", json={"username": username, "password": password})
        self.client.headers["Authorization"] = f"Bearer {response.raise_for_status().json()['access_token']}"
        return password

    def wait_healthy(self, timeout: float = 240) -> dict[str, Any]:
        def healthy() -> dict[str, Any] | None:
            health = self.client.get("/api/v2/monitor/health").raise_for_status().json()
            statuses = {name: (health.get(name) or {}).get("status") for name in _HEALTH_PARTS}
            return health if all(status == "healthy" for status in statuses.values()) else None

        return self.wait_for("every component to report healthy", healthy, timeout, interval=2.0)

    def wait_for_dag(self, dag_id: str, timeout: float = 240) -> dict[str, Any]:
        def parsed() -> dict[str, Any] | None:
            response = self.client.get(f"/api/v2/dags/{dag_id}")
            if response.status_code == 404:
                errors = self.import_errors()
                if errors:
                    raise ClusterError(f"the DAG processor could not import DAG files: {errors}")
                return None
            return response.raise_for_status().json()

        return self.wait_for(f"the DAG processor to parse {dag_id}", parsed, timeout, interval=2.0)

    def import_errors(self) -> list[dict[str, Any]]:
        body = self.client.get("/api/v2/importErrors").raise_for_status().json()
        return list(body.get("import_errors", []))

    # -----------------------------------------------------------------------------------------------------
    # REST API
    # -----------------------------------------------------------------------------------------------------

    def unpause(self, dag_id: str) -> None:
        self.client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        response = self.client.post(
            f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}}
        )
        if response.status_code >= 400:
            raise ClusterError(f"triggering {dag_id} failed: {response.status_code} {response.text}")
        return str(response.json()["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").raise_for_status().json())

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        body = self.client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances").raise_for_status()
        return list(body.json()["task_instances"])

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        response = self.client.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        response.raise_for_status()
        return _log_text(response.json().get("content"))

    def extra_links(self, dag_id: str, run_id: str, task_id: str) -> dict[str, str | None]:
        response = self.client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/links")
        body = response.raise_for_status().json()
        return dict(body.get("extra_links", body))

    def run_to_end(
        self,
        dag_id: str,
        run_id: str,
        timeout: float = 420,
        on_poll: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll the run until it ends; ``on_poll`` sees every snapshot of its task instances."""

        def ended() -> dict[str, Any] | None:
            if on_poll is not None:
                on_poll(self.task_instances(dag_id, run_id))
            run = self.dag_run(dag_id, run_id)
            return run if run["state"] in ("success", "failed") else None

        try:
            return self.wait_for(f"DAG run {dag_id}/{run_id} to end", ended, timeout, interval=1.0)
        except ClusterError as err:
            raise ClusterError(f"{err}\n{self.describe_run(dag_id, run_id)}") from None

    def describe_run(self, dag_id: str, run_id: str) -> str:
        """Every task's state and log, for a failure message."""
        parts = []
        for ti in self.task_instances(dag_id, run_id):
            parts.append(f"===== {ti['task_id']}: {ti['state']} (try {ti['try_number']}) =====")
            with contextlib.suppress(httpx.HTTPError):
                parts.append(self.task_log(dag_id, run_id, ti["task_id"], max(1, ti["try_number"]))[-4000:])
        return "\n".join(parts)


_HEALTH_PARTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


@contextlib.contextmanager
def deployed(
    prefix: str, bundles: Mapping[str, Path], extra_env: Mapping[str, str], artifacts: Path
) -> Iterator[AirflowCluster]:
    """
    A running deployment whose components are all healthy, stopped by pid at the end.

    Its process logs and timings are copied to ``artifacts`` (for a look after a CI failure), and a process
    left alive after the stop fails the test.
    """
    import shutil
    import tempfile

    home = Path(tempfile.mkdtemp(prefix=prefix))
    cluster = AirflowCluster(home, bundles=bundles, extra_env=extra_env)
    try:
        with cluster.timed("airflow db migrate"):
            cluster.run_cli("db", "migrate")
        with cluster.timed("start until every component is healthy"):
            cluster.start_all()
            cluster.wait_healthy()
        yield cluster
    finally:
        with cluster.timed("stop every component"):
            outcome = cluster.stop()
        leftovers = cluster.group_members()
        logs = artifacts / "process-logs"
        shutil.rmtree(logs, ignore_errors=True)
        shutil.copytree(cluster.log_dir, logs, dirs_exist_ok=True)
        (logs / "stop.txt").write_text(f"{outcome}\nleft alive: {leftovers}\n")
        (artifacts / "timings.txt").write_text(
            "".join(f"{seconds:7.1f} s  {phase}\n" for phase, seconds in cluster.timings.items())
        )
        shutil.rmtree(home, ignore_errors=True)
    assert not leftovers, f"processes left alive after stopping Airflow: {leftovers} ({outcome})"


def _die_with_parent() -> None:
    """If pytest itself is killed, no finally runs: let the kernel send SIGTERM to the component."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _log_text(content: Any) -> str:
    """Task logs come back as structured records (one dict per line) or as plain text."""
    if isinstance(content, str):
        return content
    lines = []
    for record in _iter_records(content):
        if isinstance(record, dict):
            event = record.get("event", "")
            rest = {k: v for k, v in record.items() if k not in ("event", "timestamp", "level", "logger")}
            lines.append(f"[{record.get('level', '')}] {event} {rest if rest else ''}".rstrip())
        else:
            lines.append(str(record))
    return "\n".join(lines)


def _iter_records(content: Any) -> Iterable[Any]:
    if isinstance(content, list):
        for item in content:
            if isinstance(item, list):
                yield from _iter_records(item)
            else:
                yield item
