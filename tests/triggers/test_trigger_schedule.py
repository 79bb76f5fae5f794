"""When the trigger polls: a fixed cadence that slow answers do not stretch, spread over the interval."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_browserbase.exceptions import BrowserbaseServerError
from airflow_provider_browserbase.models import Session
from airflow_provider_browserbase.triggers import session as trigger_module
from airflow_provider_browserbase.triggers.session import BrowserbaseSessionTrigger

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


# The fake wall clock (``time.time()`` for deadlines) runs with the fake monotonic one, from a real date.
WALL_OFFSET = 1_795_000_000.0


class FakeClock:
    """The trigger's clock and sleep: sleeping advances the time at once, and so does a slow answer."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds
        await asyncio.sleep(0)


class SlowApi:
    """Answers ``statuses`` in turn (the last one repeats), each answer taking ``latency`` seconds."""

    def __init__(self, clock: FakeClock, statuses: list[str], latency: float) -> None:
        self.clock, self.statuses, self.latency = clock, statuses, latency
        self.poll_starts: list[float] = []

    def hook_class(self) -> type:
        api = self

        class Hook:
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                pass

            async def aget_session_status(self, session_id: str) -> Session:
                api.poll_starts.append(api.clock.now)
                status = api.statuses[min(len(api.poll_starts), len(api.statuses)) - 1]
                await api.clock.sleep(api.latency)
                if status == "HTTP 503":
                    raise BrowserbaseServerError("get_session", 503, "overloaded", session_id=session_id)
                return Session(id=session_id, status=status)

            async def aclose(self) -> None:
                pass

        return Hook


class RecordingLog:
    """The trigger's logger, keeping the lines it writes."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def _record(self, message: str, *args: Any) -> None:
        self.lines.append(message % args)

    info = warning = error = debug = _record


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(trigger_module, "_clock", fake)
    monkeypatch.setattr(trigger_module, "_wall_clock", lambda: fake.now + WALL_OFFSET)
    monkeypatch.setattr(trigger_module, "_sleep", fake.sleep)

    @asynccontextmanager
    async def no_transport() -> AsyncIterator[None]:
        yield None

    monkeypatch.setattr(trigger_module, "shared_async_transport", no_transport)
    return fake


def install(monkeypatch: pytest.MonkeyPatch, api: SlowApi) -> None:
    monkeypatch.setattr(trigger_module, "BrowserbaseHook", api.hook_class())


async def run(trigger: BrowserbaseSessionTrigger) -> dict[str, Any]:
    (event,) = [event async for event in trigger.run()]
    return dict(event.payload)


async def test_slow_answers_do_not_stretch_the_poll_period(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each answer takes 3 s of a 5 s interval: sleeping 5 s after it would poll every 8 s.
    api = SlowApi(clock, ["RUNNING"] * 6 + ["COMPLETED"], latency=3.0)
    install(monkeypatch, api)
    event = await run(BrowserbaseSessionTrigger("s-1", poll_interval=5.0))
    assert event["status"] == "success"
    gaps = [b - a for a, b in zip(api.poll_starts, api.poll_starts[1:], strict=False)]
    assert len(gaps) == 6
    # The second poll is at a random phase (at least the first answer's 3 s, at most the interval) ...
    assert 3.0 <= gaps[0] <= 5.0
    # ... and from there on, one interval between polls, whatever the answers cost.
    assert gaps[1:] == pytest.approx([5.0] * 5)


async def test_an_answer_slower_than_the_interval_is_followed_by_a_poll_at_once(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = SlowApi(clock, ["RUNNING"] * 4 + ["COMPLETED"], latency=7.0)
    install(monkeypatch, api)
    assert (await run(BrowserbaseSessionTrigger("s-1", poll_interval=5.0)))["status"] == "success"
    gaps = [b - a for a, b in zip(api.poll_starts, api.poll_starts[1:], strict=False)]
    # Late: the next poll starts as soon as the answer is in (7 s), never 7 + 5 s after the last one.
    assert gaps == pytest.approx([7.0] * 4)


async def test_watchers_started_together_spread_their_polls_over_the_interval(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = SlowApi(clock, ["RUNNING", "RUNNING", "COMPLETED"], latency=0.0)
    install(monkeypatch, api)
    phases = []
    for n in range(40):
        api.poll_starts.clear()
        api.statuses = ["RUNNING", "RUNNING", "COMPLETED"]
        await run(BrowserbaseSessionTrigger(f"s-{n}", poll_interval=10.0))
        first, second, third = api.poll_starts
        assert 0 <= second - first <= 10.0
        assert third - second == pytest.approx(10.0)
        phases.append(second - first)
    # A restarted triggerer's watchers do not all poll in the same instant every interval.
    assert max(phases) - min(phases) > 5.0
    assert len({round(p, 3) for p in phases}) > 30


async def test_a_long_wait_logs_status_changes_and_a_line_a_minute(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    statuses = ["PENDING"] * 3 + ["RUNNING"] * 40 + ["COMPLETED"]  # 40 polls of 5 s: 200 s RUNNING
    api = SlowApi(clock, statuses, latency=0.0)
    install(monkeypatch, api)
    trigger = BrowserbaseSessionTrigger("s-1", poll_interval=5.0)
    lines: list[str] = []
    monkeypatch.setattr(BrowserbaseSessionTrigger, "log", RecordingLog(lines))
    assert (await run(trigger))["status"] == "success"
    lines = [line for line in lines if line.startswith("Browserbase session s-1 is")]
    assert lines[0] == "Browserbase session s-1 is PENDING"
    assert lines[1] == "Browserbase session s-1 is RUNNING"
    # 200 s of RUNNING: the change, then one line per minute, not one per poll.
    assert 4 <= len(lines) <= 6, lines


async def test_a_deadline_already_past_gives_a_timeout_after_one_poll(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = SlowApi(clock, ["RUNNING"], latency=0.0)
    install(monkeypatch, api)
    event = await run(
        BrowserbaseSessionTrigger("s-1", poll_interval=5.0, end_time=WALL_OFFSET + clock.now - 1)
    )
    assert event["status"] == "timeout"
    assert event["session_status"] == "RUNNING"
    assert len(api.poll_starts) == 1


async def test_the_deadline_shortens_the_last_sleep(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = SlowApi(clock, ["RUNNING"], latency=0.0)
    install(monkeypatch, api)
    start = clock.now
    event = await run(
        BrowserbaseSessionTrigger("s-1", poll_interval=5.0, end_time=WALL_OFFSET + start + 12.0)
    )
    assert event["status"] == "timeout"
    # The timeout comes at the deadline (a last poll there), not at the next 5 s step after it.
    assert clock.now - start == pytest.approx(12.0)
    assert api.poll_starts[-1] - start == pytest.approx(12.0)
    assert all(t - start <= 12.0 + 1e-6 for t in api.poll_starts)  # float error of the 1.8e9 s wall clock


async def test_after_a_transient_error_the_next_poll_waits_a_full_interval(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Errors that take 6 s each (a timeout, say): without the wait, the polls would run back to back.
    api = SlowApi(clock, ["RUNNING", "HTTP 503", "HTTP 503", "RUNNING", "COMPLETED"], latency=6.0)
    install(monkeypatch, api)
    assert (await run(BrowserbaseSessionTrigger("s-1", poll_interval=5.0)))["status"] == "success"
    gaps = [b - a for a, b in zip(api.poll_starts, api.poll_starts[1:], strict=False)]
    # Late answer: at once (6 s); after each error: its 6 s plus a full interval.
    assert gaps == pytest.approx([6.0, 11.0, 11.0, 6.0])


async def test_an_outage_is_warned_about_once_a_minute(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = SlowApi(clock, ["HTTP 503"] * 40 + ["COMPLETED"], latency=0.0)  # 40 errors, 5 s apart: 200 s
    install(monkeypatch, api)
    lines: list[str] = []
    monkeypatch.setattr(BrowserbaseSessionTrigger, "log", RecordingLog(lines))
    assert (await run(BrowserbaseSessionTrigger("s-1", poll_interval=5.0)))["status"] == "success"
    warnings = [line for line in lines if line.startswith("Could not read Browserbase session s-1")]
    assert "HTTP 503" in warnings[0]
    assert 3 <= len(warnings) <= 5, warnings


@pytest.mark.parametrize("interval", [0, -1, 0.0])
def test_a_zero_interval_is_refused(interval: float) -> None:
    with pytest.raises(ValueError, match="poll_interval must be > 0 seconds"):
        BrowserbaseSessionTrigger("s-1", poll_interval=interval)


def test_a_deferrable_sensor_refuses_a_zero_poke_interval() -> None:
    from airflow_provider_browserbase.sensors.session import BrowserbaseSessionSensor

    with pytest.raises(ValueError, match="poke_interval must be > 0 seconds when deferrable"):
        BrowserbaseSessionSensor(task_id="wait", session_id="s-1", deferrable=True, poke_interval=0)
    # In a worker slot, Airflow's own rule applies (zero is allowed there).
    assert BrowserbaseSessionSensor(task_id="wait2", session_id="s-1", poke_interval=0).poke_interval == 0
