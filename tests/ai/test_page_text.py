"""The allow-list, the text tidying and the caps: what decides what the browser may open and the model
sees (no browser needed)."""

from __future__ import annotations

import pytest

from airflow_provider_browserbase.ai._page_text import (
    cap_text,
    clean_text,
    url_allowed,
    validate_url_prefixes,
)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://shop.example.com/demo", True),
        ("https://shop.example.com/demo/", True),
        ("https://shop.example.com/demo/products?page=2", True),
        ("https://shop.example.com/demo?x=1", True),
        ("https://shop.example.com/demo#top", True),
        ("HTTPS://SHOP.EXAMPLE.COM/demo/products", True),
        ("https://shop.example.com/demonstration", False),
        ("https://shop.example.com/", False),
        ("http://shop.example.com/demo", False),
        ("https://shop.example.com.evil.com/demo", False),
        ("https://evil.com/https://shop.example.com/demo", False),
        ("https://shop.example.com:8443/demo", False),
        ("javascript:alert(1)", False),
        ("about:blank", False),
    ],
)
def test_a_prefix_allows_itself_and_what_lies_below_it(url: str, allowed: bool) -> None:
    assert url_allowed(url, ("https://shop.example.com/demo",)) is allowed


def test_a_prefix_ending_in_a_slash_or_a_bare_host() -> None:
    assert url_allowed("https://a.example/shop/x", ("https://a.example/shop/",))
    assert not url_allowed("https://a.example/shopx", ("https://a.example/shop/",))
    assert url_allowed("https://a.example/anything?q=1", ("https://a.example",))
    assert not url_allowed("https://b.example/", ("https://a.example", "https://c.example/"))
    assert url_allowed("https://anywhere.example/", None)


@pytest.mark.parametrize(
    ("prefixes", "message"),
    [
        ([], "must name at least one URL prefix"),
        (["shop.example.com"], "must be an http:// or https:// URL with a host"),
        (["ftp://shop.example.com/"], "must be an http:// or https:// URL with a host"),
        (["https:///path"], "must be an http:// or https:// URL with a host"),
        ([None], "must be an http:// or https:// URL with a host"),
    ],
)
def test_bad_prefixes_are_refused_naming_the_field(prefixes: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=f"allowed_url_prefixes: .*{message}"):
        validate_url_prefixes(prefixes)


def test_prefixes_are_kept_as_given() -> None:
    assert validate_url_prefixes(None) is None
    assert validate_url_prefixes("https://a.example/") == ("https://a.example/",)


def test_clean_text_keeps_cells_apart_and_drops_extra_space() -> None:
    raw = "Name\tSKU\tPrice\r\nBrass  desk\u00a0lamp\tBB-1002\t$89.50  \n\n\n\n  Page 1 of 3 \t\tNext\n"
    assert clean_text(raw) == "Name | SKU | Price\nBrass desk lamp | BB-1002 | $89.50\n\nPage 1 of 3 | Next"


def test_cap_text_says_where_it_cut() -> None:
    assert cap_text("short", 10) == "short"
    assert (
        cap_text("x" * 30, 10, hint="Read less.")
        == "x" * 10 + "\n[... cut at 10 of 30 characters. Read less.]"
    )
