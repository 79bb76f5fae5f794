"""
5. Throughput under a concurrency limit: short ``@task.browserbase`` tasks against ``--max-sessions 4``.

Running 40 real Airflow task processes (scheduler, executor, task supervisor) would measure Airflow more
than the provider on two cores, so this runs what a worker slot runs: the decorated operator's
``execute`` (session create, ``connect_over_cdp``, the user function, disconnect, session end) in
worker processes, 4 at a time as an Airflow pool of 4 slots would, each taking the next task as it frees
(``multiprocessing.Pool(4)``, one task per dispatch). Worker start-up (imports) is outside the clock.

The ideal is ``tasks ÷ 4 × one task's time``, one task's time being the median of tasks run alone on the
same server. Creates refused with HTTP 429 are counted in the hook (each extra request of a create is a
retry after a refusal); a task that raises counts as failed.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import Any

from benchmarks._common import CONN_ENV, CONN_ID, Result, Row, ServerProcess, conn_json, median, secs

SLOTS = 4
_STATE: dict[str, Any] = {}


def _init_worker(base_url: str) -> None:
    os.environ[CONN_ENV] = conn_json(base_url)
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    from airflow_provider_browserbase.decorators.browserbase import browserbase_task
    from airflow_provider_browserbase.hooks import sessions
    from airflow_provider_browserbase.hooks._transport import Send

    original = sessions._create
    _STATE["sends"] = 0

    def counting(ctx: Any, params: Any) -> Any:
        flow = original(ctx, params)
        value = None
        while True:
            try:
                step = flow.send(value)
            except StopIteration as stop:
                return stop.value
            if isinstance(step, Send):
                _STATE["sends"] += 1
            value = yield step

    sessions._create = counting
    _STATE["decorator"] = browserbase_task
    _STATE["url"] = f"{base_url}/demo/"
    import playwright.sync_api  # noqa: F401 - imported before the clock, as a warm worker has it


def _title(url: str, page: Any = None) -> str:
    page.goto(url)
    return str(page.title())


def _warm(_: int) -> int:
    time.sleep(1.0)  # long enough that every worker takes one, so all have finished their imports
    return os.getpid()


def _task(index: int) -> tuple[float, int, bool]:
    """Run one decorated task's execute path: (seconds, refused creates, ok)."""
    from unittest import mock

    decorated = _STATE["decorator"](python_callable=_title, task_id=f"t{index}", browserbase_conn_id=CONN_ID)
    operator = decorated(_STATE["url"]).operator
    ti = mock.MagicMock(dag_id="bench", task_id=f"t{index}", run_id="bench", try_number=1, map_index=-1)
    context = {"ti": ti, "params": {}, "dag_id": "bench", "run_id": "bench"}
    sends_before = _STATE["sends"]
    start = time.perf_counter()
    try:
        ok = bool(operator.execute(context))
    except Exception:
        ok = False
    return time.perf_counter() - start, _STATE["sends"] - sends_before - 1, ok


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, every process; time stolen by the host not)."""
    import psutil

    t = psutil.cpu_times()
    return float(sum(getattr(t, f, 0.0) for f in ("user", "system", "nice", "irq", "softirq")))


def _cpu(pids: list[int]) -> float:
    """CPU seconds of these processes and of their children, ended (reaped) or alive."""
    import psutil

    total = 0.0
    for pid in pids:
        proc = psutil.Process(pid)
        for p in (proc, *proc.children(recursive=True)):
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            total += t.user + t.system + t.children_user + t.children_system
    return total


def run(quick: bool) -> Result:
    tasks, alone = (8, 1) if quick else (40, 5)
    result = Result("throughput")
    ctx = multiprocessing.get_context("spawn")
    with ServerProcess("--max-sessions", str(SLOTS), "--pool-size", "0", demo=True) as server:
        with ctx.Pool(1, initializer=_init_worker, initargs=(server.base_url,)) as single:
            single.map(_task, [-1])  # warm-up
            pids = [server.pid, single.apply(_warm, (0,))]
            # The machine's background load, to take out of the solo tasks' machine-wide CPU.
            busy, wall = _machine_busy(), time.perf_counter()
            time.sleep(3 if quick else 5)
            background = (_machine_busy() - busy) / (time.perf_counter() - wall)
            cpu_before, busy, wall = _cpu(pids), _machine_busy(), time.perf_counter()
            solo = [single.apply(_task, (-2 - i,)) for i in range(alone)]
            time.sleep(0.5)  # the last browser's processes finish exiting
            cpu_per_task = (_cpu(pids) - cpu_before) / alone
            wall = time.perf_counter() - wall
            machine_per_task = max(_machine_busy() - busy - background * wall, 0.0) / alone
        with ctx.Pool(SLOTS, initializer=_init_worker, initargs=(server.base_url,)) as pool:
            pool.map(_warm, range(SLOTS), chunksize=1)
            busy, start = _machine_busy(), time.perf_counter()
            runs = list(pool.imap_unordered(_task, range(tasks), chunksize=1))
            total = time.perf_counter() - start
            busy_share = (_machine_busy() - busy) / (total * (os.cpu_count() or 1))
    one = median([seconds for seconds, _, _ in solo])
    ideal = tasks / SLOTS * one
    failed = sum(1 for *_, ok in runs if not ok)
    refused = sum(refusals for _, refusals, _ in runs)
    result.rows.append(
        Row(
            figure=f"{tasks} `@task.browserbase` tasks, {SLOTS} slots, `--max-sessions {SLOTS}`: vs ideal",
            ours=secs(total),
            reference=f"{secs(ideal)} (ideal: {tasks}÷{SLOTS}×{secs(one)})",
            ratio=total / ideal,
            target="≤ 1.30×, no task failed",
            met=total <= 1.3 * ideal and failed == 0,
        )
    )
    cores = os.cpu_count() or 1
    floor = tasks * machine_per_task / cores
    result.rows.append(
        Row(
            figure=f"same, against the CPU floor ({tasks} × machine CPU of one task ÷ {cores} cores)",
            ours=secs(total),
            reference=f"{secs(max(floor, ideal))} (CPU per task {secs(machine_per_task)})",
            ratio=total / max(floor, ideal),
            target=f"— (what {cores} cores allow)",
            met=None,
        )
    )
    result.rows.append(
        Row(
            figure=f"machine CPU busy while the {tasks} tasks ran (all {cores} cores)",
            ours=f"{busy_share:.0%}",
            reference="—",
            ratio=None,
            target="— (near 100%: CPU-bound)",
            met=None,
        )
    )
    result.rows.append(
        Row(
            figure="creates refused (HTTP 429) and retried / tasks failed",
            ours=f"{refused} / {failed}",
            reference="—",
            ratio=None,
            target="0 failed",
            met=failed == 0,
        )
    )
    under_load = median([seconds for seconds, _, _ in runs])
    result.notes.append(
        f"CPU of one task: {secs(machine_per_task)} machine-wide (busy time of all cores during the solo "
        f"runs, minus the background load measured just before: {background:.2f} cores), of which "
        f"{secs(cpu_per_task)} in the worker, the server and the processes they reaped; the rest is "
        "Chromium's zygote and renderer processes, which are reparented when a browser exits and so "
        "escape a process-tree count. Machine-wide figures are only as good as the machine is idle: run "
        "this benchmark with nothing else going on."
    )
    result.notes.append(
        f"One task alone: median {secs(one)} over {alone}; a task among {SLOTS} concurrent ones: median "
        f"{secs(under_load)} ({under_load / one:.2f}× alone: {SLOTS} browsers, {SLOTS} workers and the "
        f"server share {os.cpu_count()} cores). Each task: `page.goto` of the server's demo page and "
        "`page.title()`; `browserbase-local --max-sessions 4 --pool-size 0` in its own process."
    )
    return result
