"""
Scrape with a model instead of selectors: ``extract()`` inside ``@task.browserbase``.

The task opens the shop's listing in a Browserbase session and, page by page, asks the model of the
``pydanticai`` connection ``pydanticai_default`` for the products as rows (``ProductPage``: SKU, name,
price, URL, and the next page's URL), validated by pydantic. No CSS selector is written: the same task
works on a shop with other markup. It returns every row, in listing order.

Needs the ``ai`` extra (``pip install 'airflow-provider-browserbase[ai]'``, Python 3.11+). With
``browserbase-local`` serving the demo shop, and any model that supports tool calls::

    export AIRFLOW_CONN_PYDANTICAI_DEFAULT='{"conn_type": "pydanticai", "password": "sk-...",
                                             "extra": {"model": "openai:gpt-5-mini"}}'
    airflow dags test example_browserbase_ai_extract

Offline, the project's tests point the connection at a scripted OpenAI-compatible server
(``tests/ai/scripted_openai.py``, model ``openai-chat:extract``) instead of a model.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task
from pydantic import BaseModel, Field


class ProductRow(BaseModel):
    """One product of the listing."""

    sku: str = Field(description="The product's SKU, as printed")
    name: str
    price: float = Field(description="Price in the listing's currency, as a number")
    url: str | None = Field(default=None, description="Absolute URL of the product's page")


class ProductPage(BaseModel):
    """What one listing page holds."""

    products: list[ProductRow]
    next_page_url: str | None = Field(default=None, description="Absolute URL of the next page, if any")


@dag(
    schedule=None,
    catchup=False,
    tags=["example", "browserbase", "ai"],
    params={
        "shop_url": Param("http://127.0.0.1:8787/demo", type="string", description="The shop to scrape"),
        "max_pages": Param(10, type="integer", minimum=1, description="Stop after this many pages"),
    },
    doc_md=__doc__,
)
def example_browserbase_ai_extract() -> None:
    @task.browserbase(session_timeout=300, user_metadata={"example": "ai_extract"})
    def scrape_with_a_model(page: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
        # Imported here, not at the top: parsing the DAG file then costs nothing of the AI provider.
        from airflow_provider_browserbase.ai import extract

        rows: list[dict[str, Any]] = []
        url: str | None = f"{params['shop_url']}/products"
        for _ in range(params["max_pages"]):
            if not url:
                break
            page.goto(url)
            found = extract(
                page,
                ProductPage,
                "List every product in the table with its SKU, name, price and page URL, "
                "and give the URL of the next page of the listing.",
                llm_conn_id="pydanticai_default",
            )
            rows.extend(row.model_dump() for row in found.products)
            url = found.next_page_url
        print(f"Extracted {len(rows)} products")
        return rows

    scrape_with_a_model()


example_browserbase_ai_extract()
