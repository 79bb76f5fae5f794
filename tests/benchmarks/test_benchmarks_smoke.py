"""``python -m benchmarks --quick`` runs every benchmark and writes the table with every row (not speed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# (benchmark, start of the figure) for every row the full run reports.
EXPECTED_ROWS = [
    ("DAG-parse import", "import: `airflow.sdk` + provider modules"),
    ("DAG-parse import", "time the provider's import adds"),
    ("DAG-parse import", "third-party packages"),
    ("API call overhead", "session retrieve, wall time per call: hook vs official SDK"),
    ("API call overhead", "session retrieve, wall time per call: hook vs bare httpx"),
    ("API call overhead", "session retrieve, client CPU per call"),
    (
        "API call overhead",
        "session create + end, wall time per pair, provider without its masker time: vs official",
    ),
    (
        "API call overhead",
        "session create + end, wall time per pair, provider without its masker time: vs bare",
    ),
    ("API call overhead", "masker per session"),
    ("API call overhead", "session create + end, wall time per pair, as a task meets it"),
    ("API call overhead", "session create + end, client CPU per pair"),
    ("API call overhead", "20 sessions created in one process: masker per session"),
    ("trigger scale", "CPU seconds per 1,000 polls (20 watchers"),
    ("trigger scale", "open connections to the API"),
    ("trigger scale", "memory while watching"),
    ("trigger scale", "session end → event delay"),
    ("trigger scale", "of which: session end → start of the poll that saw it"),
    ("trigger scale", "of which: that poll's round trip"),
    ("trigger scale", "CPU seconds per 1,000 polls, 60 watchers vs 20"),
    ("trigger scale", "60 watchers: session end → event delay"),
    ("session start", "create → connect_over_cdp → first page loaded, warm pool"),
    ("session start", "create → connect_over_cdp → first page loaded, no pool"),
    ("session start", "session create (POST /v1/sessions) latency"),
    ("throughput", "4 page tasks, 4 slots, wall: `@task.browserbase`"),
    ("throughput", "4 page tasks, 4 slots, CPU of everything"),
    ("throughput", "ours against the CPU floor"),
    ("throughput", "cores the 4 tasks got"),
    ("throughput", "tasks failed: ours / reference"),
    ("CDP proxy overhead", "2 full-page screenshots + 20 `evaluate` round trips"),
    ("CDP proxy overhead", "of which screenshots"),
    ("CDP proxy overhead", "of which `evaluate` round trips"),
    ("CDP proxy overhead", "server CPU per MB of CDP traffic"),
    ("sessions per GiB", "idle session memory (PSS"),
    ("sessions per GiB", "of which the server's share"),
    ("sessions per GiB", "idle sessions that fit in 4 GiB"),
    ("recording cost", "CPU of a 3 s browsing session"),
    ("recording cost", "CPU to assemble that session's MP4"),
]


def end_group(proc: subprocess.Popen[str]) -> None:
    """SIGTERM the process group (servers end their sessions and browsers), then SIGKILL what is left."""
    for sig, grace in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            proc.poll()  # reap the leader, or the group never empties
            time.sleep(0.1)
        else:
            continue
        break
    proc.wait()


@pytest.mark.browser
@pytest.mark.timeout(900)  # seven benchmarks, each starting servers and browsers: minutes on a busy machine
def test_quick_run_produces_every_row(tmp_path: Path) -> None:
    output = tmp_path / "latest.md"
    # In a process group of its own, ended as a group on every exit (timeout, failure, a kill of pytest):
    # the benchmarks start servers and browsers of their own, which a kill of the runner alone would orphan.
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(output)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=840)  # inside pytest's own 900 s
    finally:
        end_group(proc)
    assert proc.returncode == 0, stderr[-4000:]
    report = output.read_text()
    rows = [line for line in report.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    header, body = rows[0], rows[1:]
    assert header == "| benchmark | figure | ours | reference | ratio | target | met? |"
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in body]
    assert len(cells) == len(EXPECTED_ROWS), report
    for (name, figure), row in zip(EXPECTED_ROWS, cells, strict=True):
        assert row[0] == name
        assert row[1].startswith(figure), (row[1], figure)
        assert len(row) == 7
        assert row[2], row
        assert row[6] in ("yes", "**no**", "—"), row
        assert "nan" not in row[2] + row[3] + row[4], row
    assert "## What each benchmark measured" in report
    # The printed table is the written one.
    printed = stdout.splitlines()
    assert all(row in printed for row in rows)
