"""
4. Session start: create → ``connect_over_cdp`` → first page loaded, against Playwright's own launch.

Two ``browserbase-local`` servers run in turn in their own process, one with a warm pool
(``--pool-size 1``) and one without (``--pool-size 0``). A child process (the measured one) alternates:

- through the provider: ``BrowserbaseHook.create_session()``, ``connect_over_cdp(connect_url)``, the
  session's first page, ``page.goto`` of the server's demo page (loaded);
- directly: ``chromium.launch(executable_path=<the same Chromium>)``, ``new_page()``, the same ``goto``.

The Playwright driver is started once per child for both (it costs the same either way); closing the
browser and ending the session are outside the clock, and the child waits for the pool to refill before
the next sample. The session create alone is timed too (issue 3's figure, pool vs no pool).
"""

from __future__ import annotations

import argparse
import json
import time

from benchmarks._common import CONN_ID, Result, ServerProcess, child_env, median, run_child, versus

REFILL_WAIT = 2.0


def child(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--repeats", type=int, required=True)
    parser.add_argument("--direct", action="store_true", help="also time Playwright's own launch")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
    from airflow_provider_browserbase.local.chromium import find_chromium

    url = f"{args.base_url}/demo/"
    chromium = find_chromium()
    hook = BrowserbaseHook(CONN_ID)
    samples: dict[str, list[float]] = {"create": [], "hook_start": [], "direct_start": []}
    playwright = sync_playwright().start()
    try:
        for index in range(args.repeats + 1):
            start = time.perf_counter()
            session = hook.create_session()
            created = time.perf_counter()
            browser = playwright.chromium.connect_over_cdp(session.connect_url)
            context = browser.contexts[0] if browser.contexts else browser.new_context()
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(url, wait_until="load")
            loaded = time.perf_counter()
            browser.close()
            hook.end_session(session.id)
            if index:  # the first round warms caches on both paths
                samples["create"].append(created - start)
                samples["hook_start"].append(loaded - start)
            if args.direct:
                start = time.perf_counter()
                direct = playwright.chromium.launch(executable_path=chromium)
                page = direct.new_page()
                page.goto(url, wait_until="load")
                loaded = time.perf_counter()
                direct.close()
                if index:
                    samples["direct_start"].append(loaded - start)
            time.sleep(REFILL_WAIT)
    finally:
        playwright.stop()
        hook.close()
    print(json.dumps(samples))


def run(quick: bool) -> Result:
    repeats = 1 if quick else 10
    result = Result("session start")
    with ServerProcess("--pool-size", "1", "--max-sessions", "4", demo=True) as server:
        warm = run_child(
            "benchmarks.bench_session",
            ["--base-url", server.base_url, "--repeats", str(repeats), "--direct"],
            child_env(server.base_url),
        )
    with ServerProcess("--pool-size", "0", "--max-sessions", "4", demo=True) as server:
        cold = run_child(
            "benchmarks.bench_session",
            ["--base-url", server.base_url, "--repeats", str(repeats)],
            child_env(server.base_url),
        )
    pooled, direct, unpooled = (
        median(warm["hook_start"]),
        median(warm["direct_start"]),
        median(cold["hook_start"]),
    )
    what = "create → connect_over_cdp → first page loaded"
    result.rows.append(versus(f"{what}, warm pool vs Playwright launch", pooled, direct, "launch", 1))
    result.rows.append(versus(f"{what}, no pool vs Playwright launch", unpooled, direct, "launch", None))
    create_warm, create_cold = median(warm["create"]), median(cold["create"])
    result.rows.append(
        versus(
            "session create (POST /v1/sessions) latency, warm pool vs no pool",
            create_warm,
            create_cold,
            "no pool",
            None,
        )
    )
    result.notes.append(
        f"{repeats} samples per path after one warm-up, medians; the pooled and direct samples alternate in "
        f"one child so load changes hit both; {REFILL_WAIT:g} s pause after each sample lets the pool refill."
    )
    return result


if __name__ == "__main__":
    child()
