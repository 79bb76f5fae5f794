"""
Scrape every product of a paginated listing in one Browserbase session.

Shows the building blocks one by one: ``BrowserbaseCreateSessionOperator`` opens a session; a plain
``@task`` connects Playwright to it through the ``connect_url`` XCom, follows the "Next" links and returns
one record per product; ``BrowserbaseEndSessionOperator`` ends the session whatever happened
(``trigger_rule="all_done"``); the deferrable ``BrowserbaseSessionSensor`` confirms it COMPLETED. The
scrape also saves a screenshot and a PDF of the first page, and the records as JSON, under
``<output_dir>/<run id>/``.

By default it scrapes the demo shop of the ``browserbase-local`` that the ``browserbase_default``
connection points at (any port); pass ``base_url`` for another site with the same markup (rows
``tr.product`` with ``.name``, ``.sku`` and ``.price``, and a ``rel="next"`` link)::

    browserbase-local &    # serves the API and the demo shop at http://127.0.0.1:8787
                           # (as root, in a container: browserbase-local --no-sandbox-as-root &)
    export AIRFLOW_CONN_BROWSERBASE_DEFAULT='{"conn_type": "browserbase", "host": "http://127.0.0.1:8787",
                                              "password": "bb_local_dev_key"}'
    airflow dags test example_browserbase_scrape

To watch the sensor wait in the triggerer, start the server with ``browserbase-local --release-delay 10``
(``.ci/quickstart --ui`` does): a released session then stays RUNNING for 10 s, as on Browserbase, whose
release is asynchronous. Without it, the session has ended by the sensor's first poke and the sensor
succeeds at once, without deferring. In the UI, ``confirm_session_completed`` then shows the state
*deferred* in the grid while its trigger polls, and its log holds the triggerer's lines (the trigger
starting, "Browserbase session ... is RUNNING", "Trigger fired event") before the resumed task's
"reached status COMPLETED". ``airflow dags test`` runs the trigger in-process instead (its output says
"running trigger in line").
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from airflow.sdk import Param, dag, task

from airflow_provider_browserbase.demo_shop import demo_shop_url
from airflow_provider_browserbase.operators.session import (
    BrowserbaseCreateSessionOperator,
    BrowserbaseEndSessionOperator,
    pull_connect_url,
)
from airflow_provider_browserbase.sensors.session import BrowserbaseSessionSensor

# Read every row of a listing page in one round trip; `a.href` is already an absolute URL.
READ_ROWS_JS = """
rows => rows.map(row => ({
    sku: row.querySelector('.sku').textContent.trim(),
    name: row.querySelector('.name').textContent.trim(),
    price: row.querySelector('.price').textContent.trim(),
    url: row.querySelector('a.name').href,
}))
"""


def run_folder(output_dir: str, run_id: str) -> Path:
    """A folder of its own for each run (run ids hold ``:`` and ``+``, awkward in file names)."""
    return Path(output_dir) / re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)


@dag(
    schedule=None,
    catchup=False,
    tags=["example", "browserbase"],
    params={
        "base_url": Param(None, type=["null", "string"], description="Site to scrape (empty: the demo shop)"),
        "output_dir": Param(
            "/tmp/browserbase-examples/scrape",
            type="string",
            description="Local folder for the screenshot, PDF and records (one sub-folder per run)",
        ),
        "max_pages": Param(50, type="integer", minimum=1, description="Stop after this many pages"),
    },
    doc_md=__doc__,
)
def example_browserbase_scrape() -> None:
    create_session = BrowserbaseCreateSessionOperator(
        task_id="create_session",
        session_timeout=600,
        user_metadata={"example": "scrape"},
    )

    @task(multiple_outputs=True)
    def scrape_products(
        session_id: str, params: dict[str, Any], run_id: str, ti: Any = None
    ) -> dict[str, Any]:
        """Walk the listing page by page; return the records and where the first page's captures are."""
        from playwright.sync_api import sync_playwright

        # Pulled here rather than passed as an argument (arguments show in the UI as rendered fields),
        # and masked in this task's logs.
        connect_url = pull_connect_url(ti, "create_session")
        folder = run_folder(params["output_dir"], run_id)
        folder.mkdir(parents=True, exist_ok=True)
        records: list[dict[str, Any]] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.connect_over_cdp(connect_url)
            try:
                context = browser.contexts[0]
                page = context.pages[0] if context.pages else context.new_page()
                page.goto(f"{params['base_url'] or demo_shop_url()}/products")
                page.screenshot(path=folder / "first-page.png", full_page=True)
                page.pdf(path=folder / "first-page.pdf")
                for _ in range(params["max_pages"]):
                    for row in page.eval_on_selector_all("tr.product", READ_ROWS_JS):
                        row["price"] = float(row["price"].lstrip("$").replace(",", ""))
                        records.append(row)
                    next_link = page.locator("a[rel=next]")
                    if next_link.count() == 0:
                        break
                    # Going to the link's URL waits for that page; a click would race the navigation.
                    page.goto(next_link.evaluate("link => link.href"))
            finally:
                browser.close()
        (folder / "products.json").write_text(json.dumps(records, indent=2, ensure_ascii=False))
        print(f"Scraped {len(records)} products from session {session_id} into {folder}")
        return {
            "records": records,
            "screenshot": str(folder / "first-page.png"),
            "pdf": str(folder / "first-page.pdf"),
        }

    scraped = scrape_products(session_id=create_session.output["session_id"])

    end_session = BrowserbaseEndSessionOperator(
        task_id="end_session",
        session_id=create_session.output["session_id"],
        trigger_rule="all_done",
    )

    confirm_completed = BrowserbaseSessionSensor(
        task_id="confirm_session_completed",
        session_id=create_session.output["session_id"],
        deferrable=True,
        poke_interval=2,
        timeout=300,
    )

    # The sensor also waits on the scrape, so that a failed scrape fails the run even though the
    # clean-up after it succeeds.
    scraped >> end_session >> confirm_completed
    scraped >> confirm_completed


example_browserbase_scrape()
