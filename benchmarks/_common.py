"""What every benchmark shares: the result rows, medians, the server process, child processes."""

from __future__ import annotations

import json
import os
import platform
import re
import selectors
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

REPO = Path(__file__).resolve().parent.parent
API_KEY = "bb_benchmark_key"
CONN_ID = "browserbase_bench"
CONN_ENV = f"AIRFLOW_CONN_{CONN_ID.upper()}"
READY_LINE = re.compile(r"browserbase-local ready at (\S+)")


@dataclass
class Row:
    """
    One line of the results table.

    :param figure: what was measured, with its unit.
    :param ours: the provider's figure, formatted.
    :param reference: the reference's figure, formatted ("—" when there is none).
    :param ratio: ours ÷ reference (or the figure's own ratio), ``None`` when meaningless.
    :param target: the target, in words.
    :param met: whether the target was met (``None``: no target, reported only).
    """

    figure: str
    ours: str
    reference: str
    ratio: float | None
    target: str
    met: bool | None


@dataclass
class Result:
    """
    A benchmark's rows and what it measured.

    :param name: the benchmark's title.
    :param rows: its table rows.
    :param notes: how it measured, and anything found on the way (markdown lines).
    """

    name: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def versus(label: str, ours: float, reference: float, ref_name: str, limit: float | None) -> Row:
    """A row comparing two times: ours ≤ ``limit`` × the reference meets the target (``None``: no target)."""
    return Row(
        figure=label,
        ours=ms(ours),
        reference=f"{ms(reference)} ({ref_name})",
        ratio=ours / reference,
        target="—" if limit is None else ("≤ 1.00× (no slower)" if limit == 1 else f"≤ {limit:.2f}×"),
        met=None if limit is None else ours <= limit * reference,
    )


def conn_json(base_url: str, api_key: str = API_KEY) -> str:
    """A ``browserbase`` connection for an ``AIRFLOW_CONN_*`` variable."""
    return json.dumps({"conn_type": "browserbase", "host": base_url, "password": api_key})


def child_env(base_url: str | None = None) -> dict[str, str]:
    """The environment of a benchmark child: quiet Airflow, and the connection when a server runs."""
    env = dict(os.environ)
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    # The benchmark machines run as root: browserbase-local refuses that unless told (see check_root).
    env.setdefault("BROWSERBASE_LOCAL_NO_SANDBOX_AS_ROOT", "1")
    env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if base_url is not None:
        env[CONN_ENV] = conn_json(base_url)
    return env


class ServerProcess:
    """
    ``browserbase-local`` in its own process, so its work never shares the measured process's GIL.

    :param options: extra command-line options (``--no-browser``, ``--pool-size 1``...).
    :param demo: serve the demo shop at ``/demo`` (a page for browsers to load).
    """

    def __init__(self, *options: str, demo: bool = False) -> None:
        self.options = options
        self.demo = demo
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> ServerProcess:
        argv = [sys.executable, "-m", "airflow_provider_browserbase.local", "--port", "0"]
        argv += ["--api-key", API_KEY, *([] if self.demo else ["--no-demo"]), *self.options]
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=child_env(),
            cwd=REPO,
        )
        try:
            self.base_url = self._wait_ready(self.proc, timeout=120)
        except BaseException:
            self.stop()
            raise
        return self

    @staticmethod
    def _wait_ready(proc: subprocess.Popen[str], timeout: float) -> str:
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not sel.select(timeout=0.5):
                    if proc.poll() is not None:
                        break
                    continue
                line = proc.stdout.readline()
                if not line and proc.poll() is not None:
                    break
                if match := READY_LINE.search(line):
                    return match.group(1)
        raise RuntimeError(f"browserbase-local did not start (exit code {proc.poll()})")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # SIGTERM: the server ends every session and stops its browsers before it exits.
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def run_child(module: str, args: Sequence[str], env: dict[str, str], timeout: float = 600) -> Any:
    """Run ``python -m module args`` and return the JSON its last stdout line holds."""
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{module} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def machine() -> dict[str, str]:
    """What the numbers came from."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from importlib.metadata import version

        airflow = version("apache-airflow")
    except Exception:
        airflow = "unknown"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "cores (nproc)": str(os.cpu_count()),
        "CPU": cpu,
        "Python": platform.python_version(),
        "Airflow": airflow,
        "load average (1, 5, 15 min) at start": load,
    }


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:.2f}×"


def table(results: Iterator[Result] | list[Result]) -> str:
    lines = [
        "| benchmark | figure | ours | reference | ratio | target | met? |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        for row in result.rows:
            met = "—" if row.met is None else ("yes" if row.met else "**no**")
            lines.append(
                f"| {result.name} | {row.figure} | {row.ours} | {row.reference} | {fmt_ratio(row.ratio)} "
                f"| {row.target} | {met} |"
            )
    return "\n".join(lines)
