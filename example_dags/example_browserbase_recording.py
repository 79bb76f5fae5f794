"""
Keep the video of a browser task that fails: "why did the 3 a.m. scrape fail?" answered by watching it.

``read_names`` reads the product names of the demo shop's listing with the CSS selector in the
``selector`` param. It runs with ``recording_destination``: when it fails, its session is ended and the
session's video (one MP4 per page, H.264) is saved under ``<recordings>/<run id>/``; the task still fails
with its own error (Playwright's timeout naming the selector), and its log names the saved files
("Saved the recording of Browserbase session ..."), which are also in the XCom ``browserbase_recording``.

Trigger it with a selector that matches nothing to see it happen::

    airflow dags test example_browserbase_recording -c '{"selector": "tr.product .no-such-class"}'

``save_recording="always"`` would keep the video of successful runs too. On ``browserbase-local`` the
video is assembled from the page's screencast frames (a frame whenever the page paints).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from airflow_provider_browserbase.demo_shop import demo_shop_url


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "url": Param(None, type=["null", "string"], description="Listing to read (empty: the demo shop)"),
        "selector": Param(
            "tr.product .name",
            type="string",
            description="CSS selector of the names (break it to see a video)",
        ),
        "recordings": Param(
            "/tmp/browserbase-examples/recordings",
            type="string",
            description="Folder or object storage URL for the videos of failed runs (one sub-folder per run)",
        ),
        "wait_ms": Param(5000, type="integer", minimum=0, description="How long to wait for the selector"),
    },
    user_defined_macros={"demo_shop_url": demo_shop_url},
    tags=["example", "browserbase"],
    doc_md=__doc__,
)
def example_browserbase_recording() -> None:
    @task.browserbase(
        session_timeout=300,
        recording_destination="{{ params.recordings }}/{{ run_id | replace(':', '_') | replace('+', '_') }}",
    )
    def read_names(page, url: str, params=None) -> list[str]:  # type: ignore[no-untyped-def]
        page.goto(url)
        names = page.locator(params["selector"])
        names.first.wait_for(timeout=params["wait_ms"])
        return names.all_inner_texts()

    read_names("{{ params.url or demo_shop_url('/products') }}")


example_browserbase_recording()
