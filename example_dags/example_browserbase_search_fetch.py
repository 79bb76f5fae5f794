"""
Search, then save the top results as markdown: Browserbase's Search and Fetch APIs, no browser session.

``BrowserbaseSearchOperator`` returns the results (``id``, ``title``, ``url``, ...); a mapped
``BrowserbaseFetchOperator`` fetches each result's page as markdown into a folder (a local folder by
default, or ``s3://...``, ``gs://...`` with the matching provider installed), one file per page named after
its URL, overwritten by the next run; a summary task lists what was saved.

On ``browserbase-local`` (the ``browserbase_default`` connection pointing at it, any port) the search runs
over the server's own demo shop and the fetches read the shop's pages, so the whole pipeline runs offline;
on Browserbase it searches the web.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import ObjectStoragePath, Param, dag, task

from airflow_provider_browserbase.operators.fetch import BrowserbaseFetchOperator
from airflow_provider_browserbase.operators.search import BrowserbaseSearchOperator


def result_url(result: dict[str, Any]) -> str:
    return result["url"]


@dag(
    schedule=None,
    catchup=False,
    tags=["example", "browserbase"],
    params={
        "query": Param("desk lamp", type="string", minLength=1, description="What to search for"),
        "num_results": Param(3, type="integer", minimum=1, maximum=25, description="Pages to save"),
        "destination": Param(
            "file:///tmp/browserbase-examples/search-fetch",
            type="string",
            description="Folder or object-storage URL (file://, s3://, gs://, ...) for the pages",
        ),
    },
    doc_md=__doc__,
)
def example_browserbase_search_fetch() -> None:
    search = BrowserbaseSearchOperator(
        task_id="search", query="{{ params.query }}", num_results="{{ params.num_results }}"
    )

    # One fetch per result; a trailing "/" makes the destination a folder (files named after the URLs).
    saved = BrowserbaseFetchOperator.partial(
        task_id="fetch",
        format="markdown",
        destination="{{ params.destination.rstrip('/') }}/",
        max_active_tis_per_dag=4,
    ).expand(url=search.output.map(result_url))

    @task
    def summarize(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """List what was saved: URL, file and size, in search order."""
        summary = []
        for page in pages:
            size = ObjectStoragePath(page["path"]).stat().st_size
            print(f"{page['url']} -> {page['path']} ({size} bytes, HTTP {page['status_code']})")
            summary.append({"url": page["url"], "path": page["path"], "bytes": size})
        return summary

    summarize(saved.output)


example_browserbase_search_fetch()
