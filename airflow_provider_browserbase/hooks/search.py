"""The Search API: web search results (title, URL, and what else the provider knows), best first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from airflow_provider_browserbase.exceptions import BrowserbaseValidationError
from airflow_provider_browserbase.hooks._context import one
from airflow_provider_browserbase.hooks._transport import ApiCall
from airflow_provider_browserbase.models import SearchParams, SearchResults, validation_errors

if TYPE_CHECKING:
    from airflow_provider_browserbase.hooks._context import Operation


def search(query: str, *, num_results: int = 10) -> Operation[SearchResults]:
    """``POST /v1/search`` with ``numResults`` 1-25; retried like a read (a search changes nothing)."""
    # bool is an int to Python and to pydantic's lax mode: ``num_results=True`` is a mistake, not 1.
    if isinstance(num_results, bool):
        rule = "must be an integer from 1 to 25"
        raise BrowserbaseValidationError([("num_results", rule)], "search request")
    try:
        params = SearchParams(query=query, num_results=num_results)
    except ValidationError as exc:
        raise BrowserbaseValidationError(validation_errors(exc), "search request") from None
    return one(ApiCall("search", "POST", "/v1/search", json=params.to_api()), SearchResults)
