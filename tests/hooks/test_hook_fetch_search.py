"""``fetch`` and ``search``: the request on the wire, the parsed answer, retries, and bad input refused."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from airflow_provider_browserbase.exceptions import BrowserbaseNotFoundError, BrowserbaseValidationError
from airflow_provider_browserbase.models import FetchResult, SearchResults

if TYPE_CHECKING:
    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
    from tests.hooks.hook_helpers import FakeClock, ScriptedApi

FETCHED = {
    "id": "f-1",
    "content": "# Brass desk lamp",
    "contentType": "text/markdown",
    "encoding": "utf-8",
    "headers": {"content-type": "text/html; charset=utf-8"},
    "statusCode": 404,
}
FOUND = {
    "query": "lamp",
    "requestId": "r-1",
    "results": [
        {
            "id": "1",
            "title": "Brass desk lamp",
            "url": "http://shop/lamp",
            "publishedDate": "2026-11-01T00:00:00Z",
        },
        {"id": "2", "title": "Desk mat", "url": "http://shop/mat", "favicon": "http://shop/f.ico"},
    ],
}


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def test_fetch_sends_the_options_set_and_reads_the_page(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", "/v1/fetch", httpx.Response(200, json=FETCHED))
    result = hook.fetch(
        "https://shop.example/lamp",
        format="markdown",
        allow_redirects=False,
        allow_insecure_ssl=True,
        proxies=True,
        context_id="ctx-1",
    )
    (request,) = api.requests
    assert body(request) == {
        "url": "https://shop.example/lamp",
        "format": "markdown",
        "allowRedirects": False,
        "allowInsecureSsl": True,
        "proxies": True,
        "contextId": "ctx-1",
    }
    assert isinstance(result, FetchResult)
    # The page's own status: a 404 page is a successful fetch, not an error of the call.
    assert (result.status_code, result.content, result.content_type) == (
        404,
        "# Brass desk lamp",
        "text/markdown",
    )


async def test_afetch_json_with_a_schema(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", "/v1/fetch", httpx.Response(200, json={**FETCHED, "content": {"name": "Lamp"}}))
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    result = await hook.afetch("http://shop.example/", format="json", schema=schema)
    await hook.aclose()
    assert body(api.requests[0]) == {"url": "http://shop.example/", "format": "json", "schema": schema}
    assert result.content == {"name": "Lamp"}


def test_fetch_defaults_send_only_url_and_format(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", "/v1/fetch", httpx.Response(200, json=FETCHED))
    hook.fetch("http://shop.example/")
    assert body(api.requests[0]) == {"url": "http://shop.example/", "format": "raw"}


def test_search_sends_query_and_count_and_reads_results(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", "/v1/search", httpx.Response(200, json=FOUND))
    found = hook.search("lamp", num_results=2)
    assert body(api.requests[0]) == {"query": "lamp", "numResults": 2}
    assert isinstance(found, SearchResults)
    assert [r.title for r in found.results] == ["Brass desk lamp", "Desk mat"]
    assert found.results[0].published_date is not None
    assert found.results[1].favicon == "http://shop/f.ico"


async def test_asearch_default_count(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", "/v1/search", httpx.Response(200, json=FOUND))
    found = await hook.asearch("lamp")
    await hook.aclose()
    assert body(api.requests[0]) == {"query": "lamp", "numResults": 10}
    assert found.request_id == "r-1"


@pytest.mark.parametrize("call", ["fetch", "search"])
def test_retried_like_reads(call: str, api: ScriptedApi, hook: BrowserbaseHook, clock: FakeClock) -> None:
    path, answer = ("/v1/fetch", FETCHED) if call == "fetch" else ("/v1/search", FOUND)
    api.on("POST", path, httpx.Response(503), httpx.ReadTimeout("slow"), httpx.Response(200, json=answer))
    args = ("http://shop.example/",) if call == "fetch" else ("lamp",)
    getattr(hook, call)(*args)
    assert len(api.requests) == 3
    assert len(clock.sleeps) == 2


def test_api_errors_are_not_retried(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", "/v1/fetch", httpx.Response(404, json={"message": "context ctx-9 not found"}))
    with pytest.raises(BrowserbaseNotFoundError, match="ctx-9"):
        hook.fetch("http://shop.example/", context_id="ctx-9")
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    ("call", "kwargs", "field", "rule"),
    [
        ("fetch", {"url": "ftp://shop.example/"}, "url", "http or https"),
        ("fetch", {"url": "shop.example/lamp"}, "url", "http or https"),
        ("fetch", {"url": "http://"}, "url", "with a host"),
        ("fetch", {"url": "http://x/", "format": "html"}, "format", "'raw', 'json' or 'markdown'"),
        ("fetch", {"url": "http://x/", "format": "json"}, "schema", "is required with format 'json'"),
        (
            "fetch",
            {"url": "http://x/", "schema": {"type": "object"}},
            "schema",
            "only used with format 'json'",
        ),
        ("fetch", {"url": "http://x/", "context_id": ""}, "context_id", "at least 1 character"),
        ("fetch", {"url": "http://x/", "allow_redirects": "maybe"}, "allow_redirects", "boolean"),
        ("search", {"query": ""}, "query", "at least 1 character"),
        ("search", {"query": "   "}, "query", "must not be blank"),
        ("search", {"query": "lamp", "num_results": 0}, "num_results", "greater than or equal to 1"),
        ("search", {"query": "lamp", "num_results": 26}, "num_results", "less than or equal to 25"),
        ("search", {"query": "lamp", "num_results": True}, "num_results", "integer from 1 to 25"),
    ],
)
def test_bad_input_names_the_field_before_any_request(
    call: str, kwargs: dict[str, Any], field: str, rule: str, api: ScriptedApi, hook: BrowserbaseHook
) -> None:
    positional = kwargs.pop("url" if call == "fetch" else "query")
    with pytest.raises(BrowserbaseValidationError) as raised:
        getattr(hook, call)(positional, **kwargs)
    fields = dict(raised.value.errors)
    assert field in fields, raised.value
    assert rule in fields[field]
    assert api.requests == []
