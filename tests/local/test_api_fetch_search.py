"""``/v1/fetch`` and ``/v1/search`` of ``browserbase-local``: real fetches of pages the server serves."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from local_helpers import API_KEY, STARTED_DIRS, client
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, StreamingResponse
from starlette.routing import Route

from airflow_provider_browserbase.local.api_fetch import MAX_FETCH_BYTES, context_cookie_header, to_markdown
from airflow_provider_browserbase.local.api_search import Page, rank
from airflow_provider_browserbase.local.demo_site import PRODUCTS
from airflow_provider_browserbase.local.server import LocalServer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx
    from starlette.requests import Request

LAMP = next(p for p in PRODUCTS if p.name == "Brass desk lamp")


async def _cookies(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.headers.get("cookie", ""))


async def _big(request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_FETCH_BYTES // 2**20 + 2):
            yield b"x" * 2**20

    return StreamingResponse(chunks(), media_type="text/plain")


async def _moved(request: Request) -> RedirectResponse:
    return RedirectResponse("/demo/", status_code=302)


async def _missing(request: Request) -> HTMLResponse:
    return HTMLResponse("<html><body><h1>Gone</h1></body></html>", status_code=404)


ROUTES = [
    Route("/t/cookies", _cookies),
    Route("/t/big", _big),
    Route("/t/moved", _moved),
    Route("/t/missing", _missing),
]


def _start(**options: object) -> LocalServer:
    server = LocalServer(port=0, api_key=API_KEY, no_browser=True, extra_routes=ROUTES, **options).start()  # type: ignore[arg-type]
    STARTED_DIRS.append(server.data_dir)
    return server


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    running = _start()
    try:
        yield running
    finally:
        running.stop()


def fetch(api: httpx.Client, **body: object) -> httpx.Response:
    return api.post("/v1/fetch", json=body)


def test_raw_fetch_of_a_demo_page(api: httpx.Client, server: LocalServer) -> None:
    answer = fetch(api, url=f"{server.base_url}/demo/{LAMP.path}")
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["statusCode"] == 200
    assert page["contentType"] == "text/html"
    assert page["encoding"] == "utf-8"
    assert f"<h1>{LAMP.name}</h1>" in page["content"]
    assert page["headers"]["content-type"].startswith("text/html")
    assert page["id"] != fetch(api, url=f"{server.base_url}/demo/").json()["id"]


def test_markdown_fetch(api: httpx.Client, server: LocalServer) -> None:
    page = fetch(api, url=f"{server.base_url}/demo/{LAMP.path}", format="markdown").json()
    assert page["contentType"] == "text/markdown"
    assert f"# {LAMP.name}" in page["content"]
    assert f"${LAMP.price:.2f}" in page["content"]
    assert "<" not in page["content"]
    assert "font-variant-numeric" not in page["content"]  # the <head>'s style is not content


def test_an_error_page_is_a_successful_fetch(api: httpx.Client, server: LocalServer) -> None:
    answer = fetch(api, url=f"{server.base_url}/t/missing", format="markdown")
    assert answer.status_code == 200
    assert (answer.json()["statusCode"], answer.json()["content"].strip()) == (404, "# Gone")


def test_redirects_followed_unless_refused(api: httpx.Client, server: LocalServer) -> None:
    followed = fetch(api, url=f"{server.base_url}/t/moved").json()
    assert followed["statusCode"] == 200
    assert "Demo shop" in followed["content"]
    kept = fetch(api, url=f"{server.base_url}/t/moved", allowRedirects=False).json()
    assert kept["statusCode"] == 302
    assert kept["headers"]["location"] == "/demo/"


def test_json_extraction_is_not_reproduced(api: httpx.Client, server: LocalServer) -> None:
    url = f"{server.base_url}/demo/"
    refused = fetch(api, url=url, format="json", schema={"type": "object"})
    assert refused.status_code == 501
    assert "Browserbase's language model" in refused.json()["message"]
    assert fetch(api, url=url, format="json").status_code == 400


def test_bad_bodies_are_refused_naming_the_field(api: httpx.Client) -> None:
    answer = fetch(api, url="file:///etc/passwd")
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("body/url")
    assert fetch(api, url="http://x/", format="html").json()["message"].startswith("body/format")
    assert fetch(api, url="http://x/", allowRedirects="no").status_code == 400


def test_the_page_size_is_bounded(api: httpx.Client, server: LocalServer) -> None:
    answer = fetch(api, url=f"{server.base_url}/t/big")
    assert answer.status_code == 502
    assert "larger than 10 MiB" in answer.json()["message"]


def test_an_unreachable_host_is_a_bad_gateway(api: httpx.Client) -> None:
    answer = fetch(api, url="http://127.0.0.1:9/")
    assert answer.status_code == 502
    assert "could not fetch http://127.0.0.1:9/" in answer.json()["message"]


def test_managed_proxies_are_named_as_not_applied(api: httpx.Client, server: LocalServer) -> None:
    answer = fetch(api, url=f"{server.base_url}/demo/", proxies=True)
    assert answer.status_code == 200
    assert "fetched directly" in answer.headers["x-browserbase-local-note"]
    assert "x-browserbase-local-note" not in fetch(api, url=f"{server.base_url}/demo/").headers


def test_a_contexts_cookies_are_sent(api: httpx.Client, server: LocalServer) -> None:
    assert fetch(api, url=f"{server.base_url}/t/cookies", contextId="nope").status_code == 404
    context_id = api.post("/v1/contexts", json={}).json()["id"]
    url = f"{server.base_url}/t/cookies"
    assert fetch(api, url=url, contextId=context_id).json()["content"] == ""  # nothing saved yet
    saved = [
        {"name": "sid", "value": "abc", "domain": "127.0.0.1", "path": "/", "expires": -1},
        {"name": "other", "value": "no", "domain": "example.com", "path": "/"},
        {"name": "tls", "value": "no", "domain": "127.0.0.1", "path": "/", "secure": True},
        {"name": "deep", "value": "no", "domain": "127.0.0.1", "path": "/t/cookies/x"},
    ]
    directory = server.app.state.registry.get_context(context_id).directory
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cookies.json").write_text(json.dumps(saved))
    assert fetch(api, url=url, contextId=context_id).json()["content"] == "sid=abc"


def test_cookie_matching_rules() -> None:
    cookies = [
        {"name": "a", "value": "1", "domain": ".shop.test", "path": "/"},
        {"name": "b", "value": "2", "domain": "shop.test", "path": "/cart"},
        {"name": "c", "value": "3", "domain": "shop.test", "path": "/", "expires": 10},
        {"name": "d", "value": "4", "domain": "notshop.test", "path": "/"},
    ]
    assert context_cookie_header(cookies, "http://www.shop.test/cart/1", now=100) == "a=1; b=2"
    assert context_cookie_header(cookies, "http://shop.test/cartoon", now=100) == "a=1"
    assert context_cookie_header(cookies, "http://shop.test/", now=5) == "a=1; c=3"
    assert context_cookie_header(cookies, "http://evil.test/", now=5) is None


def test_markdown_leaves_out_the_head() -> None:
    html = "<html><head><title>T</title><script>x=1</script></head><body><h2>A</h2><p>b</p></body></html>"
    assert to_markdown(html) == "## A\n\nb\n"


def search(api: httpx.Client, **body: object) -> httpx.Response:
    return api.post("/v1/search", json=body)


def test_search_finds_demo_pages_best_first(api: httpx.Client, server: LocalServer) -> None:
    answer = search(api, query="brass lamp", numResults=3)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["query"] == "brass lamp"
    assert found["requestId"]
    top = found["results"][0]
    assert (top["title"], top["url"]) == (LAMP.name, f"{server.base_url}/demo/{LAMP.path}")
    assert 1 <= len(found["results"]) <= 3
    # The result is a page that exists: fetch it.
    assert LAMP.name in fetch(api, url=top["url"]).json()["content"]
    again = search(api, query="brass lamp", numResults=3).json()
    assert again["results"][0]["id"] == top["id"]
    assert again["requestId"] != found["requestId"]


def test_search_honours_num_results(api: httpx.Client) -> None:
    # "desk" is on many pages: the listing pages and several products.
    assert len(search(api, query="desk", numResults=2).json()["results"]) == 2
    assert len(search(api, query="desk").json()["results"]) > 2
    assert search(api, query="zebra unicorn").json()["results"] == []
    for bad in (0, 26, "many"):
        refused = search(api, query="desk", numResults=bad)
        assert refused.status_code == 400
        assert refused.json()["message"].startswith("body/numResults")
    assert search(api, query="").status_code == 400
    assert search(api, query="desk", provider="exa", mode="fast").status_code == 200


def test_ranking_rules() -> None:
    pages = [
        Page("u1", "Desk mat", "wool mat for the desk"),
        Page("u2", "Lamps", "a desk lamp and a floor lamp"),
        Page("u3", "Brass desk lamp", "brass"),
        Page("u4", "Other", "nothing here"),
    ]
    assert [p.url for p in rank(pages, "desk lamp", 10)] == ["u3", "u2", "u1"]
    assert [p.url for p in rank(pages, "Desk", 2)] == ["u1", "u3"]


def test_without_the_demo_shop_search_finds_nothing_and_says_why() -> None:
    bare = _start(demo=False)
    try:
        with client(bare) as api:
            answer = search(api, query="lamp")
        assert answer.json()["results"] == []
        assert "--no-demo" in answer.headers["x-browserbase-local-note"]
    finally:
        bare.stop()


@pytest.fixture
def api(server: LocalServer) -> Iterator[httpx.Client]:
    with client(server) as http:
        yield http
