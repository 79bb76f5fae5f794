"""
``POST /v1/fetch``: a page fetched with httpx, no browser, answered as Browserbase's Fetch API does.

What runs for real: the request itself, redirects (``allowRedirects``; followed unless it is ``false``,
a choice: Browserbase does not document its default), TLS checks (``allowInsecureSsl`` skips them), the
cookies saved in a context (``contextId``: those of ``cookies.json`` that match the URL's host, path and
scheme, as a browser would send them), and ``markdown`` (``markdownify``, the page's ``<head>`` left out).

What cannot: ``format: "json"`` extracts with Browserbase's language model (answered 501), and
``proxies: true`` asks for Browserbase's managed proxies, which do not exist here, so the page is
fetched directly: the answer says so in the ``x-browserbase-local-note`` header, and the server logs it.
(The per-session upstream proxies of ``local/upstream_proxy.py`` are configured per session; a fetch has
no session, and nothing to route through.)

Loopback and private addresses are allowed on purpose: the server's own browsers already reach them (the
demo shop, a site under test), the server listens on loopback by default and answers only holders of the
API key, and fetching the demo shop is how the provider's offline tests and examples work.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from airflow_provider_browserbase.local.contexts import COOKIES
from airflow_provider_browserbase.local.errors import ApiError
from airflow_provider_browserbase.local.inputs import read_json_object, registry_of, validate_body
from airflow_provider_browserbase.local.limits import describe_size
from airflow_provider_browserbase.local.openapi import json_body
from airflow_provider_browserbase.models import FetchParams

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

#: The largest page a fetch reads; a bigger one is refused with 502 after this many bytes, not held whole.
MAX_FETCH_BYTES = 10 * 2**20
#: Seconds for the whole fetch (connect, redirects, body).
FETCH_TIMEOUT = 30.0
NO_JSON_EXTRACTION = (
    "format 'json' extracts the schema's fields with Browserbase's language model, which browserbase-local "
    "does not have: fetch with format 'raw' or 'markdown' and extract locally"
)
NO_MANAGED_PROXIES = (
    "proxies: Browserbase's managed proxies do not exist locally; the page was fetched directly"
)
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def context_cookie_header(cookies: list[dict[str, Any]], url: str, now: float | None = None) -> str | None:
    """
    The ``Cookie`` header a browser would send to ``url`` from ``cookies`` (CDP ``Network.Cookie`` objects,
    as a context saves them): domain match (a leading dot or a parent domain covers subdomains), path
    prefix, ``secure`` only over https, expired ones left out.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path or "/"
    now = time.time() if now is None else now
    pairs = []
    for cookie in cookies:
        domain = str(cookie.get("domain", "")).lower()
        bare = domain.lstrip(".")
        if not bare or not (host == bare or host.endswith("." + bare)):
            continue
        cookie_path = str(cookie.get("path") or "/")
        if not (path == cookie_path or path.startswith(cookie_path.rstrip("/") + "/")):
            continue
        if cookie.get("secure") and parts.scheme != "https":
            continue
        expires = cookie.get("expires", -1)
        if isinstance(expires, (int, float)) and 0 <= expires < now:
            continue
        pairs.append(f"{cookie.get('name', '')}={cookie.get('value', '')}")
    return "; ".join(pairs) or None


def _saved_cookies(directory: Path) -> list[dict[str, Any]]:
    path = directory / COOKIES
    if not path.is_file():
        return []  # no session has persisted to the context yet
    try:
        cookies = json.loads(path.read_text())
    except (OSError, ValueError):
        log.warning("Could not read the cookies saved in %s; fetching without them", directory)
        return []
    return [c for c in cookies if isinstance(c, dict)] if isinstance(cookies, list) else []


def to_markdown(html: str) -> str:
    """The page as markdown: ``markdownify`` with ATX headings; ``<head>``, scripts and styles left out."""
    from markdownify import MarkdownConverter

    class _BodyConverter(MarkdownConverter):
        def convert_head(self, el: Any, text: str, parent_tags: Any) -> str:
            return ""

    return str(_BodyConverter(heading_style="ATX").convert(html)).strip() + "\n"


async def _read_bounded(response: httpx.Response, url: str) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_FETCH_BYTES:
            raise ApiError(
                502,
                f"the page at {url} is larger than {describe_size(MAX_FETCH_BYTES)}, the most "
                "browserbase-local fetches",
            )
    return bytes(body)


async def _get(params: FetchParams, cookie: str | None) -> tuple[httpx.Response, bytes]:
    headers = {"user-agent": "browserbase-local fetch"}
    if cookie:
        headers["cookie"] = cookie
    try:
        async with (
            httpx.AsyncClient(
                follow_redirects=params.allow_redirects is not False,
                verify=not params.allow_insecure_ssl,
                timeout=FETCH_TIMEOUT,
                trust_env=False,  # the server's own proxy variables are not the fetch's proxies
            ) as client,
            client.stream("GET", params.url, headers=headers) as response,
        ):
            return response, await _read_bounded(response, params.url)
    except httpx.TimeoutException:
        raise ApiError(504, f"fetching {params.url} took longer than {FETCH_TIMEOUT:.0f} s") from None
    except httpx.HTTPError as exc:
        raise ApiError(502, f"could not fetch {params.url}: {type(exc).__name__}: {exc}") from None


def _answer(params: FetchParams, response: httpx.Response, raw: bytes) -> dict[str, Any]:
    mime = response.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
    encoding = response.encoding or "utf-8"
    # Browserbase answers text; a binary body is decoded too, with replacement characters (a choice).
    text = raw.decode(encoding, errors="replace")
    content_type = mime
    if params.format == "markdown" and mime in _HTML_TYPES:
        text, content_type = to_markdown(text), "text/markdown"
    return {
        "id": str(uuid.uuid4()),
        "content": text,
        "contentType": content_type,
        "encoding": encoding,
        # Repeated headers joined with ", " (what a string map can hold).
        "headers": {name: value for name, value in response.headers.items()},
        "statusCode": response.status_code,
    }


def fetch_router() -> APIRouter:
    """``POST /v1/fetch``; the caller adds the API-key dependency."""
    router = APIRouter()

    @router.post("/v1/fetch", openapi_extra=json_body(FetchParams, required=True))
    async def fetch(request: Request) -> JSONResponse:
        params: FetchParams = validate_body(FetchParams, await read_json_object(request, required=True))
        if params.format == "json":
            if not params.json_schema:
                raise ApiError(400, "body/schema is required with format 'json'")
            raise ApiError(501, NO_JSON_EXTRACTION)
        cookie = None
        if params.context_id:
            context = registry_of(request).get_context(params.context_id)  # 404 when unknown
            cookie = context_cookie_header(_saved_cookies(context.directory), params.url)
        response, raw = await _get(params, cookie)
        headers = {}
        if params.proxies:
            log.warning("Fetch of %s: %s", params.url, NO_MANAGED_PROXIES)
            headers["x-browserbase-local-note"] = NO_MANAGED_PROXIES
        # Decoding and converting up to 10 MiB of HTML takes a while: off the loop that serves CDP too.
        answer = await asyncio.to_thread(_answer, params, response, raw)
        return JSONResponse(answer, headers=headers)

    return router
