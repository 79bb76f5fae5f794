"""
2. API call overhead: the same calls through ``BrowserbaseHook``, the official SDK and bare ``httpx``.

One ``browserbase-local --no-browser`` runs in its own process; a child process runs the three clients in
rounds (the order rotating each round, a first warm-up round discarded), each round doing ``retrieves``
session retrieves and ``pairs`` create + end pairs per client. Figures are medians over rounds of the
wall time per call (the server's work is the same for all three, so differences are client overhead),
with the client process's CPU time per call alongside.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, Any

from benchmarks._common import API_KEY, CONN_ID, Result, Row, ServerProcess, child_env, median, ms, run_child

if TYPE_CHECKING:
    from collections.abc import Callable

CLIENTS = ("hook", "sdk", "httpx")


Client = tuple["Callable[[str], Any]", "Callable[[], str]", "Callable[[str], Any]"]


def _clients(base_url: str) -> dict[str, Client]:
    """For each client: (retrieve, create → id, end)."""
    import httpx
    from browserbase import Browserbase

    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

    hook = BrowserbaseHook(CONN_ID)
    sdk = Browserbase(api_key=API_KEY, base_url=base_url)
    bare = httpx.Client(base_url=base_url, headers={"X-BB-API-Key": API_KEY})

    def bare_json(response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json()

    return {
        "hook": (
            hook.get_session,
            lambda: hook.create_session().id,
            hook.end_session,
        ),
        "sdk": (
            sdk.sessions.retrieve,
            lambda: sdk.sessions.create().id,
            lambda sid: sdk.sessions.update(sid, status="REQUEST_RELEASE"),
        ),
        "httpx": (
            lambda sid: bare_json(bare.get(f"/v1/sessions/{sid}")),
            lambda: bare_json(bare.post("/v1/sessions", json={}))["id"],
            lambda sid: bare_json(bare.post(f"/v1/sessions/{sid}", json={"status": "REQUEST_RELEASE"})),
        ),
    }


def child(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--retrieves", type=int, default=500)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    clients = _clients(args.base_url)
    target = clients["httpx"][1]()
    samples: dict[str, dict[str, list[float]]] = {
        name: {"retrieve": [], "pair": [], "retrieve_cpu": [], "pair_cpu": []} for name in CLIENTS
    }
    for round_no in range(args.rounds + 1):
        order = CLIENTS[round_no % 3 :] + CLIENTS[: round_no % 3]
        for name in order:
            retrieve, create, end = clients[name]
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.retrieves):
                retrieve(target)
            retrieve_wall, retrieve_cpu = time.perf_counter() - wall, time.process_time() - cpu
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.pairs):
                end(create())
            pair_wall, pair_cpu = time.perf_counter() - wall, time.process_time() - cpu
            if round_no == 0:
                continue  # warm-up: connections, lazy imports, pydantic schemas
            samples[name]["retrieve"].append(retrieve_wall / args.retrieves)
            samples[name]["retrieve_cpu"].append(retrieve_cpu / args.retrieves)
            samples[name]["pair"].append(pair_wall / args.pairs)
            samples[name]["pair_cpu"].append(pair_cpu / args.pairs)
    clients["httpx"][2](target)
    print(json.dumps(samples))


def run(quick: bool) -> Result:
    retrieves, pairs, rounds = (50, 5, 1) if quick else (500, 50, 3)
    result = Result("API call overhead")
    with ServerProcess("--no-browser", "--max-sessions", "50") as server:
        samples = run_child(
            "benchmarks.bench_api",
            [
                *("--base-url", server.base_url, "--retrieves", str(retrieves)),
                *("--pairs", str(pairs), "--rounds", str(rounds)),
            ],
            child_env(server.base_url),
        )
    med = {name: {k: median(v) for k, v in figures.items()} for name, figures in samples.items()}
    for kind, label in (("retrieve", "session retrieve"), ("pair", "session create + end")):
        hook, sdk, bare = med["hook"][kind], med["sdk"][kind], med["httpx"][kind]
        cpu = {name: med[name][f"{kind}_cpu"] for name in CLIENTS}
        result.rows.append(
            Row(
                figure=f"{label}, wall time per call: hook vs official SDK",
                ours=ms(hook),
                reference=f"{ms(sdk)} (SDK)",
                ratio=hook / sdk,
                target="≤ 1.00× (no slower)",
                met=hook <= sdk,
            )
        )
        result.rows.append(
            Row(
                figure=f"{label}, wall time per call: hook vs bare httpx",
                ours=ms(hook),
                reference=f"{ms(bare)} (httpx)",
                ratio=hook / bare,
                target="≤ 1.30×",
                met=hook <= 1.3 * bare,
            )
        )
        result.rows.append(
            Row(
                figure=f"{label}, client CPU per call: hook / SDK / httpx",
                ours=ms(cpu["hook"]),
                reference=f"{ms(cpu['sdk'])} / {ms(cpu['httpx'])}",
                ratio=cpu["hook"] / cpu["sdk"],
                target="— (ratio is hook ÷ SDK)",
                met=None,
            )
        )
    result.notes.append(
        f"{rounds} measured rounds (after a warm-up round) of {retrieves} retrieves of one session and "
        f"{pairs} create + end pairs per client, against `browserbase-local --no-browser` in its own "
        "process; "
        "sync clients: `BrowserbaseHook` (`get_session`, `create_session`, `end_session`), "
        "`browserbase.Browserbase` (`sessions.retrieve/create/update`), and one `httpx.Client` decoding the "
        "JSON (the floor). Medians over rounds; the client's order rotates each round."
    )
    return result


if __name__ == "__main__":
    child()
