"""
7. Sessions per GiB: the memory of one idle session against Playwright's default launch of the same Chromium.

Ours: ``browserbase-local --pool-size 0`` in its own process; ``count`` sessions are created over the API
and left idle (no client connected: each browser shows its first ``about:blank`` page, with the server's
settings agent attached). Per session: the PSS of its whole Chromium process tree (every descendant of the
server is one of the sessions' Chromium processes) plus the server's share, the growth of the server's own
PSS from before the first create, divided by ``count``.

Reference: a child process runs ``playwright.chromium.launch(executable_path=<the same Chromium>)`` and
``new_page()`` ``count`` times (a browser with one blank page, as a user's task would have). Per browser:
the PSS of the Chromium processes under Playwright's driver, divided by ``count``; the driver's own memory
(node, about 50 MB, the counterpart of our server) is left out, which favours the reference.

PSS (proportional set size, ``/proc/PID/smaps_rollup``) charges each shared page to the processes sharing
it, so a sum over processes counts shared libraries once. Both sides are measured after a settle pause,
side by side in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from typing import Any

from benchmarks._common import API_KEY, REPO, Result, Row, ServerProcess, child_env, median

SETTLE = 3.0
BUDGET = 4 * 2**30


def _pss(procs: list[Any]) -> int:
    import psutil

    total = 0
    for proc in procs:
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            continue
    return total


def _browsers_under(pid: int) -> list[Any]:
    """Every Chromium process below ``pid`` (the driver, node, is not one)."""
    import psutil

    return [p for p in psutil.Process(pid).children(recursive=True) if "chrom" in _name(p)]


def _name(proc: Any) -> str:
    try:
        return str(proc.name()).lower()
    except Exception:
        return ""


def child(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from airflow_provider_browserbase.local.chromium import find_chromium

    with sync_playwright() as playwright:
        browsers = []
        for _ in range(args.count):
            browser = playwright.chromium.launch(executable_path=find_chromium())
            browser.new_page()
            browsers.append(browser)
        print("READY", flush=True)
        sys.stdin.readline()
        for browser in browsers:
            browser.close()


class _Reference:
    """The child that holds ``count`` browsers launched by Playwright until told to close them."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> _Reference:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_memory", "--count", str(self.count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
            cwd=REPO,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "READY":
            self.__exit__()
            raise RuntimeError(f"memory child did not start: {self.proc.stderr.read()[-3000:]}")  # type: ignore[union-attr]
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self.proc is not None
        with contextlib.suppress(OSError, ValueError):
            self.proc.communicate("done\n", timeout=120)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _one_round(count: int) -> dict[str, float]:
    """Both sides alive at once, measured at the same moment: shared pages are split the same way."""
    import httpx
    import psutil

    with ServerProcess("--pool-size", "0", "--max-sessions", str(count)) as server:
        headers = {"X-BB-API-Key": API_KEY}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=120) as client:
            client.get("/v1/sessions").raise_for_status()  # every lazy import of a request done
            time.sleep(1.0)
            server_proc = psutil.Process(server.pid)
            server_before = _pss([server_proc])
            ids = []
            for _ in range(count):
                response = client.post("/v1/sessions", json={})
                response.raise_for_status()
                ids.append(response.json()["id"])
            with _Reference(count) as reference:
                time.sleep(SETTLE)
                assert reference.proc is not None
                ours, launched = _browsers_under(server.pid), _browsers_under(reference.proc.pid)
                ours_pss, launched_pss = _pss(ours), _pss(launched)
                server_share = _pss([server_proc]) - server_before
            for session_id in ids:
                client.post(f"/v1/sessions/{session_id}", json={"status": "REQUEST_RELEASE"})
    return {
        "chromium": ours_pss / count,
        "server": max(server_share, 0) / count,
        "processes": len(ours) / count,
        "reference": launched_pss / count,
        "reference_processes": len(launched) / count,
    }


def run(quick: bool) -> Result:
    count, rounds = (1, 1) if quick else (4, 2)
    result = Result("sessions per GiB")
    rounds_ = [_one_round(count) for _ in range(rounds)]
    chromium = median([o["chromium"] for o in rounds_])
    server = median([o["server"] for o in rounds_])
    session = chromium + server
    reference = median([r["reference"] for r in rounds_])
    mib = 2**20
    result.rows.append(
        Row(
            figure="idle session memory (PSS: Chromium tree + server's share) vs Playwright's default launch",
            ours=f"{session / mib:.0f} MiB",
            reference=f"{reference / mib:.0f} MiB (launch + new_page)",
            ratio=session / reference,
            target="≤ 0.80×",
            met=session <= 0.8 * reference,
        )
    )
    result.rows.append(
        Row(
            figure="of which the server's share per session",
            ours=f"{server / mib:.1f} MiB",
            reference="— (Playwright's driver left out)",
            ratio=None,
            target="—",
            met=None,
        )
    )
    result.rows.append(
        Row(
            figure="idle sessions that fit in 4 GiB",
            ours=str(int(BUDGET // session)),
            reference=f"{int(BUDGET // reference)} (launch)",
            ratio=(BUDGET // session) / (BUDGET // reference),
            target="—",
            met=None,
        )
    )
    result.notes.append(
        f"{rounds} round(s) of {count} idle sessions and {count} launched browsers, all alive at once and "
        f"read at the same moment (PSS splits a shared page among every process mapping it, other "
        f"browsers on the machine included), medians; PSS read {SETTLE:g} s after the last start. "
        f"Chromium processes per browser: ours "
        f"{median([o['processes'] for o in rounds_]):.0f}, launch "
        f"{median([r['reference_processes'] for r in rounds_]):.0f}. "
        "Playwright's launch adds its own switches (`--disable-extensions`, `--disable-back-forward-cache`, "
        "`--enable-automation`...); browserbase-local's switches are in `local/chromium.py`, each with why."
    )
    return result


if __name__ == "__main__":
    child()
