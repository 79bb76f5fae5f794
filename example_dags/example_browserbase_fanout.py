"""
Read many pages in parallel, one Browserbase session per page, never more sessions than the plan allows.

Shows dynamic task mapping with ``@task.browserbase``: each mapped task gets a Playwright ``page`` in a
session of its own, which is ended however the task ends. Every mapped task takes one slot of the
Airflow pool ``browserbase``; size that pool to your Browserbase project's concurrency, and Airflow
queues the extra tasks instead of the API answering 429 (Too Many Requests)::

    airflow pools set browserbase 4 "Browserbase sessions: the project's concurrency"

(``browserbase-local`` allows 4 sessions at once by default, ``--max-sessions`` changes it.) A task that
uses no pool would run in ``default_pool`` and could exceed the concurrency.

By default it reads four product pages of the demo shop of the ``browserbase-local`` that the
``browserbase_default`` connection points at (any port); pass ``urls`` to read your own pages (the record
then has the page title and whatever of name, SKU and price the page marks with ``.name``, ``.sku`` and
``.price``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import Param, dag, task

from airflow_provider_browserbase.demo_shop import demo_shop_url

if TYPE_CHECKING:
    from playwright.sync_api import Page

DEMO_PRODUCTS = [f"/products/BB-10{n:02d}" for n in (1, 9, 17, 24)]
BROWSERBASE_POOL = "browserbase"


@dag(
    schedule=None,
    catchup=False,
    tags=["example", "browserbase"],
    params={
        "urls": Param(
            [],
            type="array",
            items={"type": "string"},
            description="Pages to read, one Browserbase session each (empty: four pages of the demo shop)",
        ),
    },
    doc_md=__doc__,
)
def example_browserbase_fanout() -> None:
    @task
    def pages_to_read(params: dict[str, Any]) -> list[str]:
        return list(params["urls"]) or [demo_shop_url(path) for path in DEMO_PRODUCTS]

    @task.browserbase(pool=BROWSERBASE_POOL, pool_slots=1, session_timeout=300, retries=1)
    def read_page(url: str, page: Page | None = None) -> dict[str, Any]:
        """Open one page and return what it says about the product on it."""
        assert page is not None
        response = page.goto(url)
        record: dict[str, Any] = {"url": page.url, "status": response.status if response else None}
        record["title"] = page.title()
        for field in ("name", "sku", "price"):
            element = page.locator(f".{field}").first
            record[field] = element.inner_text().strip() if element.count() else None
        if record["price"] is not None:
            record["price"] = float(record["price"].lstrip("$").replace(",", ""))
        return record

    @task
    def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Gather the mapped results in the order of ``urls`` (a lazy sequence until made a list)."""
        gathered = list(records)
        failed = [r["url"] for r in gathered if r["status"] != 200]
        if failed:
            raise ValueError(f"{len(failed)} page(s) did not load: {failed}")
        print(f"Read {len(gathered)} pages")
        return gathered

    summarize(read_page.expand(url=pages_to_read()))


example_browserbase_fanout()
