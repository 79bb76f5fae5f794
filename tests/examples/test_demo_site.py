"""The demo site the examples work on, mounted under ``/demo`` as ``browserbase-local`` serves it."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import pytest
from starlette.applications import Starlette

from airflow_provider_browserbase.local.demo_site import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    PAGE_COUNT,
    PAGE_SIZE,
    PRODUCTS,
    REPORT_CSV,
    demo_mount,
    product_records,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from starlette.testclient import TestClient

SITE = "http://testserver/demo"
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


class _ListingParser(HTMLParser):
    """Reads product rows and the "Next" link the way a scraper would, from the markup alone."""

    def __init__(self, page_url: str) -> None:
        super().__init__()
        self.page_url = page_url
        self.records: list[dict[str, Any]] = []
        self.next_url: str | None = None
        self._field: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "tr" and "product" in classes:
            self.records.append({"sku": "", "name": "", "price": "", "url": ""})
        elif self.records and {"name", "sku", "price"} & set(classes):
            self._field = next(c for c in ("name", "sku", "price") if c in classes)
            if tag == "a":
                self.records[-1]["url"] = urljoin(self.page_url, attributes["href"] or "")
        if tag == "a" and attributes.get("rel") == "next":
            self.next_url = urljoin(self.page_url, attributes["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("a", "td"):
            self._field = None

    def handle_data(self, data: str) -> None:
        if self._field is not None:
            self.records[-1][self._field] += data


@pytest.fixture
def client() -> Iterator[TestClient]:
    from starlette.testclient import TestClient

    with TestClient(Starlette(routes=[demo_mount()])) as test_client:
        yield test_client


def test_listing_pages_chain_through_next_and_list_every_product_once(client: TestClient) -> None:
    url: str | None = f"{SITE}/products"
    records: list[dict[str, Any]] = []
    pages = 0
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200
        parser = _ListingParser(url)
        parser.feed(response.text)
        assert 0 < len(parser.records) <= PAGE_SIZE
        records.extend(parser.records)
        url = parser.next_url
        pages += 1
    assert pages == PAGE_COUNT == 3
    for record in records:
        record["price"] = float(record["price"].removeprefix("$"))
    assert records == product_records(SITE)
    assert len({r["sku"] for r in records}) == len(PRODUCTS)


@pytest.mark.parametrize("page", ["0", "4", "x"])
def test_listing_page_out_of_range_is_404(client: TestClient, page: str) -> None:
    assert client.get(f"{SITE}/products", params={"page": page}).status_code == 404


def test_product_page_shows_the_product(client: TestClient) -> None:
    product = PRODUCTS[20]
    response = client.get(product.record(SITE)["url"])
    assert response.status_code == 200
    assert f"${product.price:.2f}" in response.text
    assert "&lt;4&gt;" in response.text  # names are escaped
    assert client.get(f"{SITE}/products/NOPE").status_code == 404


def test_account_redirects_to_login_until_signed_in(client: TestClient) -> None:
    response = client.get(f"{SITE}/account", follow_redirects=False)
    assert response.status_code == 303
    assert urljoin(f"{SITE}/account", response.headers["location"]) == f"{SITE}/login"

    wrong = client.post(f"{SITE}/login", data={"username": DEMO_USERNAME, "password": "nope"})
    assert wrong.status_code == 401
    assert "Wrong username or password" in wrong.text

    signed_in = client.post(f"{SITE}/login", data={"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
    assert signed_in.status_code == 200
    assert "localStorage.setItem" in signed_in.text
    cookie = signed_in.headers["set-cookie"]
    assert "Path=/demo/" in cookie
    assert "Max-Age=" in cookie
    assert "HttpOnly" in cookie
    account = client.get(f"{SITE}/account")
    assert f"Signed in as {DEMO_USERNAME}" in account.text

    client.get(f"{SITE}/logout")
    assert client.get(f"{SITE}/account", follow_redirects=False).status_code == 303


def test_forged_session_cookie_is_refused(client: TestClient) -> None:
    client.cookies.set("demo_session", f"{DEMO_USERNAME}:{'0' * 64}", path="/demo/")
    assert client.get(f"{SITE}/account", follow_redirects=False).status_code == 303


def test_download_page_links_to_an_attachment_with_fixed_bytes(client: TestClient) -> None:
    page = client.get(f"{SITE}/download")
    assert 'href="files/report.csv"' in page.text
    response = client.get(f"{SITE}/files/report.csv")
    assert response.status_code == 200
    assert response.content == REPORT_CSV
    assert response.headers["content-disposition"] == 'attachment; filename="report.csv"'
    assert REPORT_CSV.count(b"\r\n") == len(PRODUCTS) + 1


def test_index_links_every_part(client: TestClient) -> None:
    text = client.get(f"{SITE}/").text
    for href in ('href="products"', 'href="login"', 'href="account"', 'href="download"'):
        assert href in text


def test_two_factor_sign_in_needs_the_code_shown_on_the_codes_page(client: TestClient) -> None:
    assert "No sign-in is waiting" in client.get(f"{SITE}/codes").text
    assert client.get(f"{SITE}/verify", follow_redirects=False).headers["location"] == "login-2fa"
    refused = client.post(f"{SITE}/login-2fa", data={"username": DEMO_USERNAME, "password": "nope"})
    assert refused.status_code == 401

    step = client.post(
        f"{SITE}/login-2fa",
        data={"username": DEMO_USERNAME, "password": DEMO_PASSWORD},
        follow_redirects=False,
    )
    assert step.status_code == 303
    assert step.headers["location"] == "verify"
    # A plain new-tab link: its default is rel=noopener, the case real sites have (no opener workaround).
    assert '<a id="codes-link" href="codes" target="_blank">' in client.get(f"{SITE}/verify").text
    found = re.search(r'id="one-time-code">(\d{6})<', client.get(f"{SITE}/codes").text)
    assert found is not None
    code = found.group(1)
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    assert client.post(f"{SITE}/verify", data={"code": wrong}).status_code == 401
    assert client.get(f"{SITE}/account", follow_redirects=False).status_code == 303

    assert client.post(f"{SITE}/verify", data={"code": code}).status_code == 200
    assert "Signed in as demo" in client.get(f"{SITE}/account").text
    # The attempt is used up: its code page and verify step are gone.
    assert "No sign-in is waiting" in client.get(f"{SITE}/codes").text


def test_each_two_factor_attempt_gets_its_own_code(client: TestClient) -> None:
    seen = set()
    for _ in range(3):
        client.post(f"{SITE}/login-2fa", data={"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
        found = re.search(r'id="one-time-code">(\d{6})<', client.get(f"{SITE}/codes").text)
        assert found is not None
        seen.add(found.group(1))
    assert len(seen) == 3
