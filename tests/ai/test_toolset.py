"""
``BrowserbaseToolset`` with a real pydantic-ai agent, real Chromium through ``browserbase-local``, and a
scripted model (``FunctionModel``): the page's content reaches the model, the allow-list refuses and the
agent recovers, the caps hold, and every run, failed or not, ends its session.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from ai_helpers import new_sessions, session_statuses
from scripted_models import FOREIGN_URL, Answer, Call, Conversation, cheapest_lamp_policy, function_model
from support import private_artifacts_folders

from airflow_provider_browserbase.local.demo_site import PRODUCTS

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_browserbase.local.server import LocalServer

pytestmark = pytest.mark.usefixtures("local_server")

LAMP = next(p for p in PRODUCTS if "lamp" in p.name.lower())


def agent_with(policy: Any, toolset: Any, seen: list[Conversation] | None = None) -> Any:
    from pydantic_ai import Agent

    return Agent(function_model(policy, seen), toolsets=[toolset], retries=2)


def wait_ended(session_ids: list[str], timeout: float = 10.0) -> dict[str, str]:
    """The statuses of ``session_ids`` once none is RUNNING (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = {k: v for k, v in session_statuses().items() if k in session_ids}
        if all(v != "RUNNING" for v in statuses.values()) or time.monotonic() > deadline:
            return statuses
        time.sleep(0.2)


def test_the_agent_reads_the_page_through_the_browser_and_answers_from_it(demo_url: str) -> None:
    from airflow_provider_browserbase.ai import BrowserbaseToolset

    before = session_statuses()
    seen: list[Conversation] = []
    toolset = BrowserbaseToolset(allowed_url_prefixes=[demo_url], session_timeout=120)
    agent = agent_with(cheapest_lamp_policy, toolset, seen)

    result = agent.run_sync(f"Find the cheapest desk lamp at {demo_url}/products and answer with its SKU.")

    assert result.output == LAMP.sku
    # The model saw the lamp's row only as the browser read it from the page.
    reads = [text for conv in seen for tool, text in conv.results if tool == "read_text"]
    assert any(f"{LAMP.name} | {LAMP.sku} | ${LAMP.price:.2f}" in text for text in reads)
    # The first goto was refused with an error the model saw, and the agent went on to the shop.
    assert any(FOREIGN_URL in refusal and "not allowed" in refusal for refusal in seen[-1].refusals)
    assert [tool for tool, _ in seen[-1].results][:2] == ["goto", "read_text"]
    # One session for the whole run (three pages), ended when the run ended.
    created = new_sessions(before)
    assert len(created) == 1
    assert wait_ended(list(created)) == {next(iter(created)): "COMPLETED"}


def test_a_failing_run_ends_its_session(demo_url: str) -> None:
    from airflow_provider_browserbase.ai import BrowserbaseToolset

    def goto_then_break(conv: Conversation) -> Call | Answer:
        if not conv.results:
            return Call("goto", {"url": f"{demo_url}/products"})
        raise RuntimeError("the model provider went away")

    before = session_statuses()
    agent = agent_with(goto_then_break, BrowserbaseToolset(allowed_url_prefixes=[demo_url]))
    with pytest.raises(RuntimeError, match="went away"):
        agent.run_sync("Browse the shop")
    created = new_sessions(before)
    assert len(created) == 1
    assert set(wait_ended(list(created)).values()) == {"COMPLETED"}


def test_a_failed_run_leaves_none_of_playwrights_files_behind(demo_url: str, driver_tmp: Path) -> None:
    """The driver keeps its files in the toolset's own folder, removed when the run ends."""
    from airflow_provider_browserbase.ai import BrowserbaseToolset

    before = private_artifacts_folders()
    seen: dict[str, Any] = {}

    def goto_then_break(conv: Conversation) -> Call | Answer:
        if not conv.results:
            return Call("goto", {"url": f"{demo_url}/products"})
        seen["driver"] = list(driver_tmp.iterdir())
        seen["ours"] = private_artifacts_folders()
        raise RuntimeError("the model provider went away")

    agent = agent_with(goto_then_break, BrowserbaseToolset(allowed_url_prefixes=[demo_url]))
    with pytest.raises(RuntimeError, match="went away"):
        agent.run_sync("Browse the shop")
    assert seen["driver"] == []
    assert len(seen["ours"]) == len(before) + 1
    assert list(driver_tmp.iterdir()) == []
    assert private_artifacts_folders() == before


def test_a_run_that_never_browses_creates_no_session() -> None:
    from airflow_provider_browserbase.ai import BrowserbaseToolset

    before = session_statuses()
    agent = agent_with(lambda conv: Answer(text="no browsing needed"), BrowserbaseToolset())
    assert agent.run_sync("Say hello").output == "no browsing needed"
    assert new_sessions(before) == {}


def test_tool_calls_and_text_are_capped(demo_url: str) -> None:
    from airflow_provider_browserbase.ai import BrowserbaseToolset

    def read_until_refused(conv: Conversation) -> Call | Answer:
        if conv.refusals:
            return Answer(text=conv.refusals[-1])
        if not conv.results:
            return Call("goto", {"url": f"{demo_url}/products"})
        return Call("read_text", {"selector": "body"})

    seen: list[Conversation] = []
    toolset = BrowserbaseToolset(allowed_url_prefixes=[demo_url], max_tool_calls=3, max_text_chars=100)
    output = agent_with(read_until_refused, toolset, seen).run_sync("Read the shop").output
    assert "limit of 3 browser actions" in output
    reads = [text for tool, text in seen[-1].results if tool == "read_text"]
    assert len(reads) == 2
    assert all(text.startswith("HomeProducts") and "[... cut at 100 of " in text for text in reads)
    assert all(len(text.split("\n[... cut")[0]) == 100 for text in reads)


def test_a_click_that_leaves_the_allowed_prefixes_is_sent_back(demo_url: str) -> None:
    from airflow_provider_browserbase.ai import BrowserbaseToolset

    # Allowed: the listing only. The first product link leads outside it, to /demo/products/BB-1001.
    allowed = f"{demo_url}/products?page=1"

    def click_product(conv: Conversation) -> Call | Answer:
        steps = [
            Call("goto", {"url": allowed}),
            Call("links", {}),
            Call("click", {"selector": "a.name >> nth=0"}),
        ]
        done = len(conv.results) + len(conv.refusals)
        if done < len(steps):
            return steps[done]
        return Answer(text=conv.refusals[-1])

    seen: list[Conversation] = []
    toolset = BrowserbaseToolset(allowed_url_prefixes=[allowed])
    output = agent_with(click_product, toolset, seen).run_sync("Open a product").output
    assert f"{demo_url}/products/{PRODUCTS[0].sku}" in output
    assert "not allowed" in output
    assert f"went back to {allowed}" in output
    links = dict(seen[-1].results)["links"]
    assert f"{PRODUCTS[0].name} -> {demo_url}/products/{PRODUCTS[0].sku}  (not allowed)" in links


def test_bad_session_settings_fail_before_any_request(local_server: LocalServer) -> None:
    from airflow_provider_browserbase.ai import BrowserbaseToolset
    from airflow_provider_browserbase.exceptions import BrowserbaseValidationError

    before = session_statuses()
    agent = agent_with(lambda conv: Answer(text="unreachable"), BrowserbaseToolset(session_timeout=300_000))
    with pytest.raises(BrowserbaseValidationError, match="session_timeout"):
        agent.run_sync("Browse")
    assert new_sessions(before) == {}
