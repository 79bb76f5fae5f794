"""
Run every benchmark and print one markdown table; ``python -m benchmarks [--quick] [--only NAME ...]``.

The table and the notes go to ``benchmarks/results/latest.md`` (or ``--output``). ``--quick`` runs each
benchmark at a tiny size: it checks they all run and produce every row, not their speed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import threading
import time
import traceback
from pathlib import Path

from benchmarks import (
    bench_api,
    bench_import,
    bench_memory,
    bench_proxy,
    bench_recording,
    bench_session,
    bench_throughput,
    bench_trigger,
)
from benchmarks._common import REPO, Result, Row, machine, table

BENCHMARKS = {
    "import": bench_import,
    "api": bench_api,
    "trigger": bench_trigger,
    "session": bench_session,
    "throughput": bench_throughput,
    "proxy": bench_proxy,
    "memory": bench_memory,
    "recording": bench_recording,
}
DEFAULT_OUTPUT = REPO / "benchmarks" / "results" / "latest.md"


class LoadSampler(threading.Thread):
    """The machine's 1-minute load average every 20 s: how shared the machine was while it ran."""

    def __init__(self) -> None:
        super().__init__(name="load", daemon=True)
        self.samples: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self.stop.wait(20):
                return

    def summary(self) -> str:
        values = sorted(self.samples) or [float("nan")]
        middle = values[len(values) // 2]
        return f"1-minute load average sampled every 20 s: median {middle:.1f}, max {values[-1]:.1f}"


def report(results: list[Result], quick: bool, elapsed: float, info: dict[str, str]) -> str:
    title = "# Benchmarks" + (" (quick smoke run: sizes too small for the figures to mean anything)" * quick)
    lines = [
        title,
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC in {elapsed:.0f} s on: "
        + "; ".join(f"{key} {value}" for key, value in info.items())
        + f"; load average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}.",
        "",
        table(results),
        "",
        "## What each benchmark measured",
        "",
    ]
    for result in results:
        lines.append(f"**{result.name}.** " + " ".join(result.notes))
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run these benchmarks only")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the report")
    args = parser.parse_args(argv)
    info = machine()
    load = LoadSampler()
    load.start()
    started = time.monotonic()
    results: list[Result] = []
    failed = False
    for name, module in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        print(f"[benchmarks] {name}...", file=sys.stderr, flush=True)
        begun = time.monotonic()
        try:
            results.append(module.run(args.quick))
        except Exception as exc:
            failed = True
            traceback.print_exc()
            row = Row("benchmark failed", type(exc).__name__, "—", None, "runs", False)
            results.append(Result(name, [row], [str(exc)]))
        print(f"[benchmarks] {name}: {time.monotonic() - begun:.0f} s", file=sys.stderr, flush=True)
    load.stop.set()
    info["load while running"] = load.summary()
    text = report(results, args.quick, time.monotonic() - started, info)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")
    print(table(results))
    print(f"\n(written to {args.output})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
