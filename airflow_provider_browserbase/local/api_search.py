"""
``POST /v1/search``: a search over the pages this server serves itself, so that a search -> fetch
pipeline runs offline. There is no web index here: the demo shop (``/demo``) is the whole "web".

The index: the shop is crawled in-process (its ASGI app, no network) from its front page, following
links that stay inside it, at most :data:`MAX_PAGES` HTML pages answered 200; a page's title and visible
text are kept (scripts and styles skipped). It is built on the first search and kept: the shop's pages
do not change while the server runs.

The ranking, simple on purpose: the query is split into lowercase words; a page matching none of them
is left out; pages are ordered by how many distinct query words they contain, then by occurrences, a
word in the title counting three times one in the text, then in crawl order. ``numResults`` (1-25,
default 10) caps the list. ``provider`` and ``mode`` are accepted and have no effect here.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import httpx
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse
from starlette.routing import Mount

from airflow_provider_browserbase.local.inputs import config_of, read_json_object, validate_body
from airflow_provider_browserbase.local.openapi import json_body
from airflow_provider_browserbase.models import SearchParams

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp

log = logging.getLogger(__name__)

MAX_PAGES = 200
DEFAULT_RESULTS = 10
TITLE_WEIGHT = 3
NO_DEMO = "browserbase-local searches only its own demo shop, which this server does not serve (--no-demo)"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Page:
    url: str
    title: str
    text: str


class _PageParser(HTMLParser):
    """The title, the visible text and the links of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.text: list[str] = []
        self.links: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("title", "script", "style"):
            self._in.append(tag)
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if not self._in:
            self.text.append(data)
        elif self._in[-1] == "title":
            self.title += data


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def rank(pages: list[Page], query: str, limit: int) -> list[Page]:
    """The pages matching ``query``, best first, as the module docstring says."""
    terms = list(dict.fromkeys(words(query)))
    scored = []
    for order, page in enumerate(pages):
        title, text = words(page.title), words(page.text)
        matched = [t for t in terms if t in title or t in text]
        if not matched:
            continue
        count = sum(TITLE_WEIGHT * title.count(t) + text.count(t) for t in terms)
        scored.append((-len(matched), -count, order, page))
    scored.sort(key=lambda item: item[:3])
    return [page for *_, page in scored[:limit]]


async def crawl(app: ASGIApp, site_url: str, mount_path: str) -> list[Page]:
    """The HTML pages of ``app`` (mounted at ``mount_path``, public at ``site_url``), in crawl order."""
    start = site_url.rstrip("/") + "/"
    transport = httpx.ASGITransport(app=app, root_path=mount_path)
    pages: list[Page] = []
    queue, seen = [start], {start}
    async with httpx.AsyncClient(transport=transport) as client:
        while queue and len(pages) < MAX_PAGES:
            url = queue.pop(0)
            response = await client.get(url)
            if response.status_code != 200 or "html" not in response.headers.get("content-type", ""):
                continue
            parser = _PageParser()
            parser.feed(response.text)
            pages.append(Page(url, parser.title.strip(), " ".join(" ".join(parser.text).split())))
            for href in parser.links:
                target = urljoin(url, href).split("#")[0]
                # Inside the shop only; signing out would change what the next page shows.
                if target.startswith(start) and target not in seen and not target.endswith("/logout"):
                    seen.add(target)
                    queue.append(target)
    return pages


def _demo_mount(app: FastAPI) -> Mount | None:
    return next((r for r in app.router.routes if isinstance(r, Mount) and r.name == "demo"), None)


async def site_pages(request: Request) -> list[Page] | None:
    """The demo shop's pages, crawled once per server; ``None`` when the server does not serve the shop."""
    app = request.app
    mount = _demo_mount(app)
    if mount is None:
        return None
    lock = app.state.__dict__.setdefault("_search_lock", asyncio.Lock())
    async with lock:
        pages = getattr(app.state, "search_pages", None)
        if pages is None:
            site_url = config_of(request).base_url + mount.path
            pages = await crawl(mount.app, site_url, mount.path)
            app.state.search_pages = pages
            log.info("Search index: %d pages of the demo shop at %s", len(pages), site_url)
    return pages


def result_json(page: Page) -> dict[str, Any]:
    # The id is the URL's digest: the same page keeps its id across searches.
    digest = hashlib.sha256(page.url.encode()).hexdigest()[:16]
    return {"id": digest, "title": page.title or urlsplit(page.url).path, "url": page.url}


def search_router() -> APIRouter:
    """``POST /v1/search``; the caller adds the API-key dependency."""
    router = APIRouter()

    @router.post("/v1/search", openapi_extra=json_body(SearchParams, required=True))
    async def search(request: Request) -> JSONResponse:
        params: SearchParams = validate_body(SearchParams, await read_json_object(request, required=True))
        pages = await site_pages(request)
        headers = {}
        if pages is None:
            log.warning("Search %r: %s", params.query, NO_DEMO)
            headers["x-browserbase-local-note"] = NO_DEMO
        found = rank(pages or [], params.query, params.num_results or DEFAULT_RESULTS)
        body = {
            "query": params.query,
            "requestId": str(uuid.uuid4()),
            "results": [result_json(page) for page in found],
        }
        return JSONResponse(body, headers=headers)

    return router
