"""The smallest useful DAG: open a page in a Browserbase session and return its title."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"url": Param("http://127.0.0.1:8787/demo/", type="string")},
    tags=["example", "browserbase"],
    doc_md=__doc__,
)
def example_browserbase_page_title():
    @task.browserbase(session_timeout=300, browser_settings={"viewport": {"width": 1280, "height": 800}})
    def page_title(page, url: str) -> str:
        page.goto(url)
        return page.title()

    page_title("{{ params.url }}")


example_browserbase_page_title()
