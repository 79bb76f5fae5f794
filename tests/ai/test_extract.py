"""
``extract()`` on a real page (real Chromium through ``browserbase-local``, synchronous Playwright as in
``@task.browserbase``), with a real ``pydanticai`` connection and common-ai's hook; only the model is
scripted: ``FunctionModel`` in-process, the scripted OpenAI-compatible server for the example DAG.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from ai_helpers import new_sessions, session_statuses
from pydantic import BaseModel
from scripted_models import Answer, Conversation, extract_products_policy, function_model
from scripted_openai import ScriptedOpenAI

from airflow_provider_browserbase.local.demo_site import PAGE_SIZE, PRODUCTS, product_records
from tests.examples.example_helpers import EXAMPLE_DAGS, run_example, task_states, xcom_value

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Page

pytestmark = pytest.mark.usefixtures("local_server")


class Row(BaseModel):
    sku: str
    name: str
    price: float
    url: str | None = None


class Listing(BaseModel):
    products: list[Row]
    next_page_url: str | None = None


@pytest.fixture
def page(demo_url: str) -> Iterator[Page]:
    """A page of a real session, driven by synchronous Playwright as in ``@task.browserbase``."""
    from playwright.sync_api import sync_playwright

    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

    with BrowserbaseHook().session(session_timeout=120) as session, sync_playwright() as playwright:
        browser = playwright.chromium.connect_over_cdp(session.connect_url)
        try:
            yield browser.contexts[0].pages[0]
        finally:
            browser.close()


@pytest.fixture
def scripted_conn(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A real ``pydanticai`` connection ``llm_scripted`` whose model is a ``FunctionModel`` of a policy."""
    from airflow.providers.common.ai.hooks.pydantic_ai import PydanticAIHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_LLM_SCRIPTED",
        json.dumps({"conn_type": "pydanticai", "password": "sk-unused", "extra": {"model": "openai:unused"}}),
    )
    seen: list[Conversation] = []

    def use(policy: Any) -> list[Conversation]:
        monkeypatch.setattr(PydanticAIHook, "get_conn", lambda self: function_model(policy, seen))
        return seen

    return use


def test_extract_returns_the_rows_only_the_page_holds(page: Page, demo_url: str, scripted_conn: Any) -> None:
    from airflow_provider_browserbase.ai import extract

    seen = scripted_conn(extract_products_policy)
    page.goto(f"{demo_url}/products")
    # Called on the thread where synchronous Playwright runs its event loop, as in a task.
    listing = extract(
        page, Listing, "Every product with its URL, and the next page", llm_conn_id="llm_scripted"
    )

    assert isinstance(listing, Listing)
    assert [row.model_dump() for row in listing.products] == product_records(demo_url)[:PAGE_SIZE]
    assert listing.next_page_url == f"{demo_url}/products?page=2"
    prompt = seen[0].prompt
    assert prompt.startswith("Every product with its URL, and the next page")
    assert f"URL: {demo_url}/products" in prompt
    assert f"{PRODUCTS[1].name} | {PRODUCTS[1].sku} | ${PRODUCTS[1].price:.2f}" in prompt


def test_extract_can_show_the_aria_snapshot_and_a_part_of_the_page(
    page: Page, demo_url: str, scripted_conn: Any
) -> None:
    from airflow_provider_browserbase.ai import extract

    seen = scripted_conn(lambda conv: Answer(data={"products": []}))
    page.goto(f"{demo_url}/products")
    extract(page, Listing, "Rows", llm_conn_id="llm_scripted", snapshot="aria", selector="#products")
    prompt = seen[0].prompt
    assert "Snapshot (ARIA of #products)" in prompt
    assert f'row "{PRODUCTS[0].name} {PRODUCTS[0].sku} ${PRODUCTS[0].price:.2f}"' in prompt
    assert "navigation" not in prompt  # only the table


def test_a_long_snapshot_is_cut_with_a_note(page: Page, demo_url: str, scripted_conn: Any) -> None:
    from airflow_provider_browserbase.ai import extract

    seen = scripted_conn(lambda conv: Answer(data={"products": []}))
    page.goto(f"{demo_url}/products")
    extract(page, Listing, "Rows", llm_conn_id="llm_scripted", max_chars=200)
    assert "[... cut at 200 of " in seen[0].prompt
    assert PRODUCTS[PAGE_SIZE - 1].name not in seen[0].prompt


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"instruction": "  "}, "instruction: must say what to extract"),
        ({"max_chars": 0}, "max_chars: must be a positive integer"),
        ({"snapshot": "html"}, "snapshot: must be 'text' or 'aria'"),
    ],
)
def test_bad_arguments_fail_naming_the_field(
    page: Page, scripted_conn: Any, kwargs: dict[str, Any], message: str
) -> None:
    from airflow_provider_browserbase.ai import extract

    seen = scripted_conn(lambda conv: Answer(data={"products": []}))
    arguments: dict[str, Any] = {"instruction": "Rows", **kwargs}
    with pytest.raises(ValueError, match=message):
        extract(page, Listing, llm_conn_id="llm_scripted", **arguments)
    assert seen == []


@pytest.mark.usefixtures("airflow_db")
def test_extract_example_scrapes_every_page_through_the_model(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.models import DagBag

    before = session_statuses()
    with ScriptedOpenAI() as llm:
        conn = {
            "conn_type": "pydanticai",
            "host": llm.base_url,
            "password": "sk-scripted-key",
            "extra": {"model": "openai-chat:extract"},
        }
        monkeypatch.setenv("AIRFLOW_CONN_PYDANTICAI_DEFAULT", json.dumps(conn))
        dag_run = run_example(
            DagBag(dag_folder=str(EXAMPLE_DAGS)), "example_browserbase_ai_extract", shop_url=demo_url
        )
        prompts = llm.prompts()

    assert task_states(dag_run) == {"scrape_with_a_model": "success"}
    assert xcom_value(dag_run, "scrape_with_a_model") == product_records(demo_url)
    # Three pages, one model request each, each holding that page's rows as the browser read them.
    assert len(prompts) == 3
    for number, prompt in enumerate(prompts):
        first = PRODUCTS[number * PAGE_SIZE]
        assert f"{first.sku} | ${first.price:.2f}" in prompt
    created = new_sessions(before)
    assert list(created.values()) == ["COMPLETED"]
