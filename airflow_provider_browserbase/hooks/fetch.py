"""The Fetch API: one page's content (raw, markdown, or JSON extracted by a schema) without a session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from airflow_provider_browserbase.exceptions import BrowserbaseValidationError
from airflow_provider_browserbase.hooks._context import one
from airflow_provider_browserbase.hooks._transport import ApiCall
from airflow_provider_browserbase.models import FetchParams, FetchResult, validation_errors

if TYPE_CHECKING:
    from airflow_provider_browserbase.hooks._context import Operation


def fetch(
    url: str,
    *,
    format: str = "raw",
    schema: dict[str, Any] | None = None,
    allow_redirects: bool | None = None,
    allow_insecure_ssl: bool | None = None,
    proxies: bool | None = None,
    context_id: str | None = None,
) -> Operation[FetchResult]:
    """
    ``POST /v1/fetch``. Options left ``None`` are not sent (Browserbase's defaults apply).

    Retried like a read: a repeated fetch costs a second fetch, never a second session.
    """
    try:
        params = FetchParams(
            url=url,
            format=format,
            json_schema=schema,
            allow_redirects=allow_redirects,
            allow_insecure_ssl=allow_insecure_ssl,
            proxies=proxies,
            context_id=context_id,
        )
    except ValidationError as exc:
        raise BrowserbaseValidationError(validation_errors(exc), "fetch request") from None
    if errors := params.schema_errors():
        raise BrowserbaseValidationError(errors, "fetch request")
    return one(ApiCall("fetch", "POST", "/v1/fetch", json=params.to_api()), FetchResult)
