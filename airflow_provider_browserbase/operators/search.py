"""Operator that searches the web with Browserbase's Search API."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context


class BrowserbaseSearchOperator(BaseOperator):
    """
    Search the web with Browserbase's Search API and return the results, best first.

    The return value is a list of dicts: ``id``, ``title``, ``url``, and the optional ``author``,
    ``favicon``, ``image`` and ``published_date`` (ISO 8601) when the search found them. Feed the URLs to a
    mapped :class:`~airflow_provider_browserbase.operators.fetch.BrowserbaseFetchOperator` with
    ``.expand(url=search.output.map(lambda result: result["url"]))``.

    :param query: what to search for (templated).
    :param num_results: how many results, 1 to 25 (templated).
    :param browserbase_conn_id: the Browserbase connection (templated).
    """

    template_fields: Sequence[str] = ("query", "num_results", "browserbase_conn_id")
    ui_color = "#f4e3ff"

    def __init__(
        self,
        *,
        query: str,
        num_results: int | str = 10,
        browserbase_conn_id: str = BrowserbaseHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.query = query
        self.num_results = num_results
        self.browserbase_conn_id = browserbase_conn_id

    @cached_property
    def hook(self) -> BrowserbaseHook:
        return BrowserbaseHook(self.browserbase_conn_id)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        # A templated count renders as text ("5"): read it as the integer it names.
        count = self.num_results
        if isinstance(count, str) and count.strip().isdigit():
            count = int(count)
        found = self.hook.search(self.query, num_results=count)  # type: ignore[arg-type]
        self.log.info(
            "Search %r: %d result(s) (request %s)", self.query, len(found.results), found.request_id
        )
        return [result.model_dump(mode="json", exclude_none=True) for result in found.results]
