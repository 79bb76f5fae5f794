"""
Archive a web page: a screenshot, a PDF, and the file the page offers for download.

Shows ``@task.browserbase`` with the session and browser injected next to the page, the Browserbase way
of downloading in a remote browser (CDP ``Browser.setDownloadBehavior`` with ``downloadPath:
"downloads"``, then ``BrowserbaseDownloadsOperator`` fetches the files from the API), and writing to an
``ObjectStoragePath`` destination: a local folder by default, or ``s3://...``, ``gs://...`` with the
matching provider installed. Each run writes under ``<destination>/<run id>/``.

The tasks declare the assets they update (``browserbase_archive_captures`` and
``browserbase_archive_downloads``), so a downstream DAG can be scheduled on a fresh archive; each asset
event's ``extra`` holds the paths written in that run.

By default it archives the download page of the demo shop of the ``browserbase-local`` that the
``browserbase_default`` connection points at (any port).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, ObjectStoragePath, Param, dag, task

from airflow_provider_browserbase.demo_shop import demo_shop_url
from airflow_provider_browserbase.operators.downloads import BrowserbaseDownloadsOperator

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from airflow_provider_browserbase.models import Session

CAPTURES = Asset(name="browserbase_archive_captures")
DOWNLOADS = Asset(name="browserbase_archive_downloads")
DOWNLOAD_TIMEOUT_SECONDS = 60


@dag(
    schedule=None,
    catchup=False,
    tags=["example", "browserbase"],
    params={
        "page_url": Param(
            None,
            type=["null", "string"],
            description="Page to archive (empty: the demo shop's download page)",
        ),
        "download_selector": Param(
            "a#report", type="string", description="CSS selector of the link that downloads the file"
        ),
        "destination": Param(
            "file:///tmp/browserbase-examples/archive",
            type="string",
            description="Folder or object-storage URL (file://, s3://, gs://, ...) for the archive",
        ),
    },
    doc_md=__doc__,
)
def example_browserbase_archive() -> None:
    @task.browserbase(multiple_outputs=True, outlets=[CAPTURES], session_timeout=300)
    def capture_page(
        params: dict[str, Any],
        run_id: str,
        outlet_events: Any,
        page: Page | None = None,
        browser: Browser | None = None,
        session: Session | None = None,
    ) -> dict[str, str]:
        """Save a screenshot and a PDF of the page, and download its file inside the remote browser."""
        assert page is not None
        assert browser is not None
        assert session is not None
        folder = ObjectStoragePath(params["destination"]) / re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)
        folder.mkdir(parents=True, exist_ok=True)

        # Browserbase collects the files a session downloads into "downloads"; Playwright's own download
        # handling would keep them on the client side, where the API never sees them.
        cdp = browser.new_browser_cdp_session()
        finished: list[dict[str, Any]] = []
        cdp.on(
            "Browser.downloadProgress",
            lambda event: finished.append(event) if event["state"] in ("completed", "canceled") else None,
        )
        cdp.send(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": "downloads", "eventsEnabled": True},
        )

        page.goto(params["page_url"] or demo_shop_url("/download"))
        screenshot = folder / "page.png"
        screenshot.write_bytes(page.screenshot(full_page=True))
        pdf = folder / "page.pdf"
        pdf.write_bytes(page.pdf())

        page.click(params["download_selector"])
        deadline = time.monotonic() + DOWNLOAD_TIMEOUT_SECONDS
        while not finished and time.monotonic() < deadline:
            page.wait_for_timeout(200)  # lets Playwright deliver the CDP events meanwhile
        if not finished or finished[0]["state"] != "completed":
            raise RuntimeError(f"The download did not complete in the browser: {finished or 'no event'}")

        outlet_events[CAPTURES].extra = {"screenshot": str(screenshot), "pdf": str(pdf)}
        return {
            "session_id": session.id,
            "folder": str(folder),
            "screenshot": str(screenshot),
            "pdf": str(pdf),
        }

    captured = capture_page()

    BrowserbaseDownloadsOperator(
        task_id="save_downloads",
        session_id=captured["session_id"],
        destination="{{ ti.xcom_pull(task_ids='capture_page', key='folder') }}/downloads",
        outlets=[DOWNLOADS],
    )


example_browserbase_archive()
