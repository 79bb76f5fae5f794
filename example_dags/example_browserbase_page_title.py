"""
The smallest useful DAG: open a page in a Browserbase session and return its title.

Without a ``url`` param it opens the demo shop of the ``browserbase-local`` that the ``browserbase_default``
connection points at, on whatever port it runs.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from airflow_provider_browserbase.demo_shop import demo_shop_url


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"url": Param(None, type=["null", "string"], description="Page to open (empty: the demo shop)")},
    user_defined_macros={"demo_shop_url": demo_shop_url},
    tags=["example", "browserbase"],
    doc_md=__doc__,
)
def example_browserbase_page_title():
    @task.browserbase(session_timeout=300, browser_settings={"viewport": {"width": 1280, "height": 800}})
    def page_title(page, url: str) -> str:
        page.goto(url)
        return page.title()

    page_title("{{ params.url or demo_shop_url('/') }}")


example_browserbase_page_title()
