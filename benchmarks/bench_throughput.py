"""
5. Throughput against the hand-written alternative: 40 page tasks, 4 slots, side by side.

- ours: ``@task.browserbase``'s execute path (session create, Playwright's driver, ``connect_over_cdp``, the
  user function, disconnect, session end) against ``browserbase-local --max-sessions 4 --pool-size 2``;
- reference: the same task written by hand without this provider, the way a user writes it: inside the
  task, ``sync_playwright()`` and ``chromium.launch(executable_path=<the same Chromium>)``, ``new_page()``,
  the same ``goto`` and ``title()``, ``close()``.

Both run what a worker slot runs, in worker processes 4 at a time as an Airflow pool of 4 slots would,
each taking the next task as it frees (``multiprocessing.Pool(4)``, one task per dispatch); running 40
real Airflow task processes would measure Airflow's scheduler more than either. Worker start-up
(imports of ``airflow.sdk`` and Playwright, on both sides) is outside the clock. The sides alternate
(ours, reference, reference, ours...) and each has its own ``browserbase-local`` (the reference's with
``--no-browser``, only to serve the same demo page).

CPU is counted exactly, not from the machine's counters (the benchmark machine may be shared): the
measuring process is a child subreaper (``PR_SET_CHILD_SUBREAPER``), so Chromium's zygote and renderer
processes, reparented when a browser exits, come to it and are reaped with their CPU time; a figure is
the CPU of every process the side started, alive or ended. A task that raises counts as failed.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import multiprocessing
import os
import resource
import threading
import time
from typing import Any

from benchmarks._common import (
    CONN_ENV,
    CONN_ID,
    Result,
    Row,
    ServerProcess,
    child_env,
    conn_json,
    median,
    run_child,
    secs,
)

SLOTS = 4
POOL = 2
# After a run: the last browsers exit and the pool refills, on both sides (shorter in a --quick run).
SETTLE = {"full": 3.0, "quick": 0.5}
_STATE: dict[str, Any] = {}
PR_SET_CHILD_SUBREAPER = 36


# ---------------------------------------------------------------------------------------------------------
# Worker processes (one per slot)
# ---------------------------------------------------------------------------------------------------------


def _init_worker(base_url: str, side: str) -> None:
    os.environ[CONN_ENV] = conn_json(base_url)
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    import airflow.sdk  # noqa: F401 - both sides run inside an Airflow worker
    import playwright.sync_api  # noqa: F401 - imported before the clock, as a warm worker has it

    _STATE["url"] = f"{base_url}/demo/"
    _STATE["side"] = side
    if side == "ref":
        from airflow_provider_browserbase.local.chromium import find_chromium

        _STATE["chromium"] = find_chromium()
        return
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

    sessions._create = counting  # type: ignore[assignment]
    _STATE["decorator"] = browserbase_task


def _title(url: str, page: Any = None) -> str:
    page.goto(url)
    return str(page.title())


def _handwritten(url: str, chromium: str) -> str:
    """The reference task, as a user writes it without the provider."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        page = browser.new_page()
        page.goto(url)
        title = page.title()
        browser.close()
    return title


def _warm(_: int) -> int:
    time.sleep(1.0)  # long enough that every worker takes one, so all have finished their imports
    return os.getpid()


def _task(index: int) -> tuple[float, int, bool]:
    """Run one task: (seconds, refused creates, ok)."""
    start = time.perf_counter()
    if _STATE["side"] == "ref":
        try:
            ok = bool(_handwritten(_STATE["url"], _STATE["chromium"]))
        except Exception:
            ok = False
        return time.perf_counter() - start, 0, ok
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


# ---------------------------------------------------------------------------------------------------------
# The measuring child: a subreaper, so no CPU escapes
# ---------------------------------------------------------------------------------------------------------


class Reaper(threading.Thread):
    """Reap the Chromium processes orphaned to this subreaper; the kernel adds their CPU to this process's."""

    def __init__(self) -> None:
        super().__init__(name="reaper", daemon=True)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.reap()

    @staticmethod
    def reap() -> None:
        import psutil

        for proc in psutil.Process().children():
            try:
                if proc.status() == psutil.STATUS_ZOMBIE and "chrom" in proc.name().lower():
                    os.waitpid(proc.pid, os.WNOHANG)
            except (psutil.Error, ChildProcessError):
                continue


def cpu_so_far() -> float:
    """CPU seconds of this process and every descendant, ended (reaped, here or below) or alive."""
    import psutil

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    for proc in psutil.Process().children(recursive=True):
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


class Profiler(threading.Thread):
    """Sample the CPU time of every descendant by kind every 50 ms (a process's last sample is kept)."""

    def __init__(self, server_pid: int) -> None:
        super().__init__(name="profiler", daemon=True)
        self.server_pid = server_pid
        self.last: dict[int, tuple[str, float]] = {}
        self.first: dict[int, float] = {}
        self.stop = threading.Event()

    def kind(self, proc: Any) -> str:
        name = proc.name().lower()
        if proc.pid == self.server_pid:
            return "server (API, CDP proxy, settings agent)"
        if "node" in name:
            return "Playwright's driver (node)"
        if "chrom" in name:
            return "Chromium"
        return "worker (task code, hook, Playwright's Python side)"

    def run(self) -> None:
        import psutil

        me = psutil.Process()
        while True:
            for proc in me.children(recursive=True):
                try:
                    t = proc.cpu_times()
                    kind = self.kind(proc)
                except psutil.Error:
                    continue
                self.first.setdefault(proc.pid, t.user + t.system)
                self.last[proc.pid] = (kind, t.user + t.system)
            if self.stop.wait(0.05):
                return

    def by_kind(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for pid, (kind, cpu) in self.last.items():
            out[kind] = out.get(kind, 0.0) + cpu - self.first.get(pid, 0.0)
        return out


def _side(side: str, tasks: int, alone: int, settle: float) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    options = (
        ("--max-sessions", str(SLOTS), "--pool-size", str(POOL)) if side == "ours" else ("--no-browser",)
    )
    with ServerProcess(*options, demo=True) as server:
        init = (server.base_url, side)
        with ctx.Pool(SLOTS, initializer=_init_worker, initargs=init) as pool:
            pool.map(_warm, range(SLOTS), chunksize=1)
            pool.apply(_task, (-1,))  # warm-up: first connect, Chromium's disk caches
            time.sleep(settle)
            # One task alone, profiled; then tasks alone, counted (the profiler's own sampling is not).
            profiler = Profiler(server.pid)
            profiler.start()
            profiled = pool.apply(_task, (-2,))
            time.sleep(settle)
            profiler.stop.set()
            profiler.join()
            cpu, solo = cpu_so_far(), []
            for i in range(alone):
                solo.append(pool.apply(_task, (-3 - i,)))
                time.sleep(settle)
            cpu_per_task = (cpu_so_far() - cpu) / alone
            cpu, start = cpu_so_far(), time.perf_counter()
            runs = list(pool.imap_unordered(_task, range(tasks), chunksize=1))
            wall = time.perf_counter() - start
            time.sleep(settle)
            run_cpu = cpu_so_far() - cpu
    return {
        "wall": wall,
        "cpu": run_cpu,
        "cpu_per_task": cpu_per_task,
        "one": median([s for s, _, _ in solo]),
        "profiled": profiled[0],
        "profile": profiler.by_kind(),
        "under_load": median([s for s, _, _ in runs]),
        "failed": sum(1 for *_, ok in runs if not ok),
        "refused": sum(r for _, r, _ in runs),
    }


def child(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--alone", type=int, required=True)
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--settle", type=float, required=True)
    args = parser.parse_args(argv)
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    reaper = Reaper()
    reaper.start()
    measured: dict[str, list[dict[str, Any]]] = {"ours": [], "ref": []}
    loads: list[float] = []
    for index in range(args.rounds):
        for side in ("ours", "ref") if index % 2 == 0 else ("ref", "ours"):
            loads.append(os.getloadavg()[0])
            measured[side].append(_side(side, args.tasks, args.alone, args.settle))
    loads.append(os.getloadavg()[0])
    reaper.stop.set()
    print(json.dumps({"measured": measured, "loads": loads}))


# ---------------------------------------------------------------------------------------------------------
# Parent
# ---------------------------------------------------------------------------------------------------------


def run(quick: bool) -> Result:
    tasks, alone, rounds = (4, 1, 1) if quick else (40, 3, 2)
    result = Result("throughput")
    data = run_child(
        "benchmarks.bench_throughput",
        [
            *("--tasks", str(tasks), "--alone", str(alone), "--rounds", str(rounds)),
            *("--settle", str(SETTLE["quick" if quick else "full"])),
        ],
        child_env(),
        timeout=3600,
    )
    measured = data["measured"]

    def med(side: str, key: str) -> float:
        return median([r[key] for r in measured[side]])

    ours_wall, ref_wall = med("ours", "wall"), med("ref", "wall")
    ours_cpu, ref_cpu = med("ours", "cpu"), med("ref", "cpu")
    failed = {side: sum(r["failed"] for r in measured[side]) for side in measured}
    what = f"{tasks} page tasks, {SLOTS} slots"
    result.rows.append(
        Row(
            figure=f"{what}, wall: `@task.browserbase` (pool {POOL}) vs hand-written `chromium.launch()`",
            ours=secs(ours_wall),
            reference=f"{secs(ref_wall)} (launch per task)",
            ratio=ours_wall / ref_wall,
            target="≤ 0.80×",
            met=ours_wall <= 0.8 * ref_wall,
        )
    )
    result.rows.append(
        Row(
            figure=f"{what}, CPU of everything each side ran (Chromium's orphans included)",
            ours=secs(ours_cpu),
            reference=f"{secs(ref_cpu)} (launch per task)",
            ratio=ours_cpu / ref_cpu,
            target="≤ 0.90×",
            met=ours_cpu <= 0.9 * ref_cpu,
        )
    )
    cores = os.cpu_count() or 1
    per_task, ref_per_task = med("ours", "cpu_per_task"), med("ref", "cpu_per_task")
    floor = tasks * per_task / cores
    result.rows.append(
        Row(
            figure=f"ours against the CPU floor ({tasks} × CPU of one task alone ÷ {cores} cores)",
            ours=secs(ours_wall),
            reference=f"{secs(floor)} (CPU per task {secs(per_task)}; launch {secs(ref_per_task)})",
            ratio=ours_wall / floor,
            target="≤ 1.20×",
            met=ours_wall <= 1.2 * floor,
        )
    )
    result.rows.append(
        Row(
            figure=f"cores the {tasks} tasks got (their CPU ÷ wall time; the floor assumes all {cores})",
            ours=f"{ours_cpu / ours_wall:.2f}",
            reference=f"{ref_cpu / ref_wall:.2f} (launch per task)",
            ratio=None,
            target="— (well below the cores: the machine was shared)",
            met=None,
        )
    )
    result.rows.append(
        Row(
            figure="tasks failed: ours / reference (creates refused with HTTP 429 and retried)",
            ours=f"{failed['ours']} ({sum(r['refused'] for r in measured['ours'])} refused)",
            reference=str(failed["ref"]),
            ratio=None,
            target="0 failed",
            met=failed["ours"] == 0,
        )
    )
    kinds = sorted({k for side in measured.values() for r in side for k in r["profile"]})
    profile = "; ".join(
        f"{kind}: ours {measured['ours'][0]['profile'].get(kind, 0.0):.2f} s, "
        f"launch {measured['ref'][0]['profile'].get(kind, 0.0):.2f} s"
        for kind in kinds
    )
    result.notes.append(
        f"{rounds} round(s) per side of {tasks} tasks, alternating, medians. One task alone: ours "
        f"{secs(med('ours', 'one'))}, launch {secs(med('ref', 'one'))} (median of {alone}); among {SLOTS} "
        f"concurrent ones: ours {secs(med('ours', 'under_load'))}, launch {secs(med('ref', 'under_load'))}. "
        f"CPU of one task alone (every process it used, pool refill included): ours {secs(per_task)}, launch "
        f"{secs(med('ref', 'cpu_per_task'))}. Profile of one solo task, CPU seconds by process (sampled "
        f"every 50 ms, so a few ms of short-lived processes are missed): {profile}. "
        "1-minute load average at the start of each side's run: "
        f"{', '.join(f'{x:.1f}' for x in data['loads'])}."
    )
    result.notes.append(
        "Each task: `page.goto` of the server's demo page and `page.title()`. Airflow's own task start "
        "(supervisor, fork, parsing) is the same for both sides and not run here."
    )
    return result


if __name__ == "__main__":
    child()
