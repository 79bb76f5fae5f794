"""
3. Trigger scale: many ``BrowserbaseSessionTrigger`` in one event loop, as the triggerer runs them.

The parent starts ``browserbase-local --no-browser`` in its own process and creates ``count`` API-only
sessions. A child process (the measured one) builds one watcher per session and waits for a go; the
parent then releases each session at a random time within ``spread`` seconds (from a thread of its own,
never the child) while it samples the child's TCP connections to the server and its memory with psutil.

- ours: ``BrowserbaseSessionTrigger.run()`` for each session, one task each on one loop;
- reference: the official SDK's ``AsyncBrowserbase``, one client per watcher (what a trigger written on
  the SDK would do), polling ``sessions.retrieve`` at the same interval.

CPU seconds are the child's user + system time while the watchers run, divided by the polls made. The
delay of an event is the time it arrived minus the session's ``endedAt`` on the server; it is also split
into the time from the end to the start of the poll that saw it (what the trigger's cadence decides) and
that poll's round trip (the API's answer, plus, for ours, the wait for one of the shared transport's
in-flight slots).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import subprocess
import sys
import threading
import time
from typing import Any

from airflow_provider_browserbase.triggers._shared_transport import MAX_IN_FLIGHT
from benchmarks._common import (
    API_KEY,
    CONN_ID,
    REPO,
    Result,
    Row,
    ServerProcess,
    child_env,
    median,
    ms,
)

TERMINAL = {"COMPLETED", "ERROR", "TIMED_OUT"}
# The shared transport's bound on connections (and requests in flight) per event loop.
POOL_BOUND = MAX_IN_FLIGHT


# ---------------------------------------------------------------------------------------------------------
# Child: the measured process
# ---------------------------------------------------------------------------------------------------------


async def _watch_ours(session_ids: list[str], interval: float, events: list[Any]) -> int:
    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
    from airflow_provider_browserbase.triggers.session import BrowserbaseSessionTrigger

    polls = 0
    poll_started: dict[str, float] = {}
    # Count the reads whichever method the trigger polls with, and note when each session's last one began.
    for name in ("aget_session", "aget_session_status"):
        original = getattr(BrowserbaseHook, name)

        async def counted(self: BrowserbaseHook, session_id: str, _original: Any = original) -> Any:
            nonlocal polls
            polls += 1
            started = time.time()
            answer = await _original(self, session_id)
            poll_started[session_id] = started
            return answer

        setattr(BrowserbaseHook, name, counted)

    async def one(session_id: str) -> None:
        trigger = BrowserbaseSessionTrigger(session_id, browserbase_conn_id=CONN_ID, poll_interval=interval)
        async for event in trigger.run():
            events.append((session_id, time.time(), event.payload["status"], poll_started[session_id]))

    await asyncio.gather(*(one(sid) for sid in session_ids))
    return polls


async def _watch_sdk(session_ids: list[str], interval: float, events: list[Any], base_url: str) -> int:
    from browserbase import AsyncBrowserbase

    polls = 0

    async def one(session_id: str) -> None:
        nonlocal polls
        client = AsyncBrowserbase(api_key=API_KEY, base_url=base_url)
        try:
            while True:
                started = time.time()
                session = await client.sessions.retrieve(session_id)
                polls += 1
                if session.status in TERMINAL:
                    events.append((session_id, time.time(), session.status, started))
                    return
                await asyncio.sleep(interval)
        finally:
            await client.close()

    await asyncio.gather(*(one(sid) for sid in session_ids))
    return polls


def child(argv: list[str] | None = None) -> None:
    import resource

    import psutil

    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["ours", "sdk"], required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--interval", type=float, required=True)
    args = parser.parse_args(argv)
    session_ids = json.loads(sys.stdin.readline())
    # Import everything before the clock starts, as a running triggerer has.
    if args.mode == "ours":
        import airflow_provider_browserbase.triggers.session  # noqa: F401
    else:
        import browserbase  # noqa: F401
    rss_ready = psutil.Process().memory_info().rss
    print("READY", flush=True)
    sys.stdin.readline()  # the go
    events: list[Any] = []
    cpu, wall = time.process_time(), time.perf_counter()
    if args.mode == "ours":
        polls = asyncio.run(_watch_ours(session_ids, args.interval, events))
    else:
        polls = asyncio.run(_watch_sdk(session_ids, args.interval, events, args.base_url))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(
        json.dumps(
            {
                "cpu": cpu,
                "wall": wall,
                "polls": polls,
                "events": events,
                "rss_ready": rss_ready,
                "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        ),
        flush=True,
    )


# ---------------------------------------------------------------------------------------------------------
# Parent
# ---------------------------------------------------------------------------------------------------------


def _create_sessions(base_url: str, count: int) -> list[str]:
    import httpx

    async def create_all() -> list[str]:
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(
            base_url=base_url, headers={"X-BB-API-Key": API_KEY}, limits=limits, timeout=60
        ) as client:
            gate = asyncio.Semaphore(20)

            async def one() -> str:
                async with gate:
                    response = await client.post("/v1/sessions", json={"keepAlive": True})
                    response.raise_for_status()
                    return str(response.json()["id"])

            return list(await asyncio.gather(*(one() for _ in range(count))))

    return asyncio.run(create_all())


def _ended_at(base_url: str, session_ids: list[str]) -> dict[str, float]:
    import httpx

    with httpx.Client(base_url=base_url, headers={"X-BB-API-Key": API_KEY}, timeout=60) as client:
        listed = client.get("/v1/sessions", params={"status": "COMPLETED"}).json()
    wanted = set(session_ids)
    return {
        s["id"]: dt.datetime.fromisoformat(s["endedAt"].replace("Z", "+00:00")).timestamp()
        for s in listed
        if s["id"] in wanted and s.get("endedAt")
    }


class _Ender(threading.Thread):
    """Release each session at its scheduled time (seconds after ``start``)."""

    def __init__(self, base_url: str, schedule: list[tuple[float, str]]) -> None:
        super().__init__(name="ender", daemon=True)
        self.base_url = base_url
        self.schedule = sorted(schedule)
        self.failures = 0

    def run(self) -> None:
        import httpx

        start = time.monotonic()
        with httpx.Client(base_url=self.base_url, headers={"X-BB-API-Key": API_KEY}, timeout=60) as client:
            for at, session_id in self.schedule:
                pause = start + at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                response = client.post(f"/v1/sessions/{session_id}", json={"status": "REQUEST_RELEASE"})
                self.failures += not response.is_success


class _Sampler(threading.Thread):
    """Sample the child's TCP connections to the server and its memory every ``period`` seconds."""

    def __init__(self, pid: int, server_port: int, period: float = 0.25) -> None:
        super().__init__(name="sampler", daemon=True)
        self.pid, self.server_port, self.period = pid, server_port, period
        self.connections: list[int] = []
        self.rss: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        import psutil

        proc = psutil.Process(self.pid)
        while not self.stop.wait(self.period):
            try:
                conns = proc.net_connections(kind="tcp")
                self.rss.append(proc.memory_info().rss)
            except psutil.Error:
                return
            port = self.server_port
            self.connections.append(
                sum(1 for c in conns if c.raddr and c.raddr.port == port and c.status != "TIME_WAIT")
            )


def _one_run(mode: str, server: ServerProcess, count: int, interval: float, spread: float) -> dict[str, Any]:
    from urllib.parse import urlsplit

    session_ids = _create_sessions(server.base_url, count)
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "benchmarks.bench_trigger", "--mode", mode),
            *("--base-url", server.base_url, "--interval", str(interval)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(server.base_url),
        cwd=REPO,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(session_ids) + "\n")
        proc.stdin.flush()
        if proc.stdout.readline().strip() != "READY":
            raise RuntimeError(f"trigger child did not start: {proc.stderr.read()[-3000:]}")  # type: ignore[union-attr]
        rng = random.Random(len(session_ids))
        # The first poll of every watcher happens right after the go; sessions end after it.
        schedule = [(interval * 0.5 + rng.uniform(0, spread), sid) for sid in session_ids]
        ender = _Ender(server.base_url, schedule)
        sampler = _Sampler(proc.pid, urlsplit(server.base_url).port or 0)
        sampler.start()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        ender.start()
        out, err = proc.communicate(timeout=spread + 20 * interval + 300)
        sampler.stop.set()
        sampler.join()
        ender.join()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"trigger child failed: {err[-3000:]}")
    data = json.loads(out.strip().splitlines()[-1])
    ended = _ended_at(server.base_url, session_ids)
    delays = [t - ended[sid] for sid, t, _, _ in data["events"] if sid in ended]
    # From the end to the start of the poll that saw it: what the poll cadence decides. The rest of the
    # delay is that poll's own round trip, which no poller can avoid.
    seen = [started - ended[sid] for sid, _, _, started in data["events"] if sid in ended]
    round_trips = [t - started for _, t, _, started in data["events"]]
    return {
        "cpu_per_1000": data["cpu"] / max(data["polls"], 1) * 1000,
        "polls": data["polls"],
        "events": len(data["events"]),
        "success": sum(1 for _, _, status, _ in data["events"] if status in ("success", "COMPLETED")),
        "delays": delays,
        "seen": seen,
        "round_trips": round_trips,
        "max_connections": max(sampler.connections, default=0),
        "median_connections": median(sampler.connections) if sampler.connections else 0,
        "rss_growth": max(max(sampler.rss, default=0), data["maxrss"]) - data["rss_ready"],
        "release_failures": ender.failures,
        "wall": data["wall"],
    }


def _connections(watchers: int) -> tuple[str, str]:
    return ("--max-connections", str(2 * watchers + 100))


def run(quick: bool) -> Result:
    counts, interval, spread, runs = ((20, 60), 1.0, 2.0, 1) if quick else ((1000, 5000), 5.0, 30.0, 2)
    count, large = counts
    result = Result("trigger scale")
    measured: dict[str, list[dict[str, Any]]] = {"ours": [], "sdk": []}
    scaled: list[dict[str, Any]] = []
    # The SDK's client per watcher opens one connection each: above the server's default bound (256).
    with ServerProcess("--no-browser", "--max-sessions", str(count + 10), *_connections(count)) as server:
        for _ in range(runs):
            for mode in ("ours", "sdk"):
                measured[mode].append(_one_run(mode, server, count, interval, spread))
    # The larger count runs ours only: the SDK's client per watcher needs ~0.9 GB per 1,000 watchers.
    with ServerProcess("--no-browser", "--max-sessions", str(large + 10), *_connections(large)) as server:
        scaled.append(_one_run("ours", server, large, interval, spread))

    def agg(mode: str, key: str) -> float:
        return median([r[key] for r in measured[mode]])

    def delays(mode: str, key: str = "delays") -> list[float]:
        return [d for r in measured[mode] for d in r[key]]

    ours_cpu, sdk_cpu = agg("ours", "cpu_per_1000"), agg("sdk", "cpu_per_1000")
    result.rows.append(
        Row(
            figure=f"CPU seconds per 1,000 polls ({count} watchers, one loop)",
            ours=f"{ours_cpu:.2f} s",
            reference=f"{sdk_cpu:.2f} s (SDK, client per watcher)",
            ratio=ours_cpu / sdk_cpu,
            target="< 1.00× (fewer than the SDK)",
            met=ours_cpu < sdk_cpu,
        )
    )
    ours_conn = max(r["max_connections"] for r in measured["ours"])
    sdk_conn = max(r["max_connections"] for r in measured["sdk"])
    result.rows.append(
        Row(
            figure="open connections to the API (peak)",
            ours=str(ours_conn),
            reference=f"{sdk_conn} (SDK)",
            ratio=ours_conn / sdk_conn if sdk_conn else None,
            target=f"≤ {POOL_BOUND} (the shared pool's bound)",
            met=0 < ours_conn <= POOL_BOUND,
        )
    )
    ours_mem, sdk_mem = agg("ours", "rss_growth"), agg("sdk", "rss_growth")
    result.rows.append(
        Row(
            figure="memory while watching (peak RSS growth)",
            ours=f"{ours_mem / 2**20:.0f} MB",
            reference=f"{sdk_mem / 2**20:.0f} MB (SDK)",
            ratio=ours_mem / sdk_mem if sdk_mem > 0 else None,
            target="—",
            met=None,
        )
    )
    all_ours, all_sdk = delays("ours"), delays("sdk")
    seen_ours, seen_sdk = delays("ours", "seen"), delays("sdk", "seen")
    trips_ours, trips_sdk = delays("ours", "round_trips"), delays("sdk", "round_trips")
    delivered = all(r["events"] == count and r["success"] == count for r in measured["ours"])
    worst_seen = max(seen_ours, default=float("inf"))
    nan = float("nan")
    worst = max(all_ours, default=float("inf"))
    result.rows.append(
        Row(
            figure="session end → event delay, median / max",
            ours=f"{ms(median(all_ours))} / {ms(worst)}",
            reference=f"{ms(median(all_sdk))} / {ms(max(all_sdk, default=nan))} (SDK)",
            ratio=median(all_ours) / median(all_sdk) if all_sdk else None,
            target=f"every event; each ≤ one interval ({interval:g} s) + that poll's round trip",
            met=delivered and worst_seen <= interval,
        )
    )
    result.rows.append(
        Row(
            figure="of which: session end → start of the poll that saw it, median / max",
            ours=f"{ms(median(seen_ours))} / {ms(worst_seen)}",
            reference=f"{ms(median(seen_sdk))} / {ms(max(seen_sdk, default=nan))} (SDK)",
            ratio=None,
            target="— (the cadence: ≤ one interval; the target above)",
            met=None,
        )
    )
    result.rows.append(
        Row(
            figure="of which: that poll's round trip (incl. its wait for an in-flight slot), median / max",
            ours=f"{ms(median(trips_ours))} / {ms(max(trips_ours, default=nan))}",
            reference=f"{ms(median(trips_sdk))} / {ms(max(trips_sdk, default=nan))} (SDK)",
            ratio=None,
            target="—",
            met=None,
        )
    )
    big = scaled[0]
    big_seen = max(big["seen"], default=float("inf"))
    result.rows.append(
        Row(
            figure=f"CPU seconds per 1,000 polls, {large} watchers vs {count} (one loop)",
            ours=f"{big['cpu_per_1000']:.2f} s",
            reference=f"{ours_cpu:.2f} s ({count} watchers)",
            ratio=big["cpu_per_1000"] / ours_cpu,
            target="≤ 1.25× (linear: the same CPU per poll)",
            met=big["cpu_per_1000"] <= 1.25 * ours_cpu,
        )
    )
    result.rows.append(
        Row(
            figure=f"{large} watchers: session end → event delay, median / max; peak connections",
            ours=f"{ms(median(big['delays']))} / {ms(max(big['delays'], default=float('inf')))}; "
            f"{big['max_connections']}",
            reference="—",
            ratio=None,
            target=f"every event; each ≤ one interval + its poll's round trip; ≤ {POOL_BOUND} connections",
            met=big["events"] == large
            and big["success"] == large
            and big_seen <= interval
            and 0 < big["max_connections"] <= POOL_BOUND,
        )
    )
    polls = {mode: int(agg(mode, "polls")) for mode in measured}
    result.notes.append(
        f"{runs} run(s) per client of {count} API-only sessions, each released at a random time within "
        f"{spread:g} s; poll interval {interval:g} s; median polls per run: ours {polls['ours']}, SDK "
        f"{polls['sdk']}; events delivered (success) per run: ours "
        f"{[r['success'] for r in measured['ours']]}, SDK {[r['success'] for r in measured['sdk']]}; "
        f"releases refused: {sum(r['release_failures'] for rs in measured.values() for r in rs)}. "
        "Connections: sockets of the child connected to the server's port (psutil, every 0.25 s, "
        "TIME_WAIT excluded). Memory: peak RSS minus RSS after imports, before the watchers exist. "
        f"The delay's target is one interval plus one round trip: a session can end just after a poll "
        f"began, and the poll that sees it needs its own answer; so each event's end → start of the poll "
        f"that saw it must be ≤ the interval. {large} watchers (ours only, one run): "
        f"{big['polls']} polls, end → its poll max {ms(big_seen)}, round trip median "
        f"{ms(median(big['round_trips']))}, memory growth {big['rss_growth'] / 2**20:.0f} MB."
    )
    return result


if __name__ == "__main__":
    child()
