"""``blockAds``, ``allowedDomains`` and ``ignoreCertificateErrors`` on real Chromium."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from local_helpers import client
from playwright.sync_api import Error as PlaywrightError
from settings_session import settings_session
from settings_sites import AD_URLS, Site, failures, self_signed_certificate

from airflow_provider_browserbase.local.netpolicy import (
    host_in,
    load_block_list,
    normalize_domain,
    parse_host_list,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import httpx
    from playwright.sync_api import Playwright

    from airflow_provider_browserbase.local.server import LocalServer

pytestmark = pytest.mark.browser
# ERR_BLOCKED_BY_CLIENT; Chromium's DevTools adds ".Inspector" to the text of requests it failed itself.
BLOCKED = "net::ERR_BLOCKED_BY_CLIENT.Inspector"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site() as running:
        yield running


def load_ads(pw: Playwright, api: httpx.Client, site: Site, body: dict, also: str = "") -> dict[str, str]:
    with settings_session(pw, api, body) as (browser, _):
        page = browser.contexts[0].pages[0]
        failed = failures(page)
        query = f"?also={also}" if also else ""
        page.goto(site.url(f"/ads{query}"), wait_until="load")
        own = page.evaluate("document.getElementById('own').complete")
        assert own is True  # the page's own resources are never blocked
    return failed


def test_without_block_ads_ad_hosts_are_requested(pw: Playwright, api: httpx.Client, site: Site) -> None:
    failed = load_ads(pw, api, site, {})
    # Offline, the ad hosts do not resolve: the browser did try them.
    assert {url: failed.get(url) for url in AD_URLS} == dict.fromkeys(AD_URLS, "net::ERR_NAME_NOT_RESOLVED")


def test_block_ads_blocks_ad_hosts_and_subdomains(pw: Playwright, api: httpx.Client, site: Site) -> None:
    failed = load_ads(pw, api, site, {"browserSettings": {"blockAds": True}})
    assert {url: failed.get(url) for url in AD_URLS} == dict.fromkeys(AD_URLS, BLOCKED)


def test_adblock_list_replaces_the_builtin_list(
    pw: Playwright, make_server: Callable[..., LocalServer], site: Site, tmp_path: Path
) -> None:
    own_list = tmp_path / "hosts.txt"
    own_list.write_text("# mine\n0.0.0.0 blocked.localhost\n")
    server = make_server(adblock_list=own_list)
    extra = site.url("/pixel.png", host="blocked.localhost")
    with client(server) as api:
        failed = load_ads(pw, api, site, {"browserSettings": {"blockAds": True}}, also=extra)
    assert failed[extra] == BLOCKED
    assert failed["http://doubleclick.net/ad.js"] == "net::ERR_NAME_NOT_RESOLVED"  # not on this list


def test_host_lists_and_domains() -> None:
    hosts = parse_host_list("# c\nads.example.com\n0.0.0.0 tracker.net # inline\n\n")
    assert hosts == {"ads.example.com", "tracker.net"}
    assert host_in("x.tracker.net", hosts)
    assert host_in("TRACKER.NET.", hosts)
    assert not host_in("nottracker.net", hosts)
    assert not host_in("example.com", hosts)
    with pytest.raises(ValueError, match="line 1"):
        parse_host_list("http://ads.example.com/\n")
    assert normalize_domain("*.Example.com") == "example.com"
    builtin = load_block_list()  # shipped in the package (hatch packs every file under the package)
    assert {"doubleclick.net", "googlesyndication.com"} <= builtin


def goto_error(page, url: str) -> str | None:
    try:
        page.goto(url)
    except PlaywrightError as exc:
        return str(exc)
    return None


def test_allowed_domains_refuse_main_frame_navigations_only(
    pw: Playwright, api: httpx.Client, site: Site
) -> None:
    body = {"browserSettings": {"allowedDomains": ["localhost"]}}
    with settings_session(pw, api, body) as (browser, _):
        context = browser.contexts[0]
        page = context.pages[0]
        assert goto_error(page, site.url("/?title=ok", host="localhost")) is None
        assert goto_error(page, site.url("/?title=sub", host="app.localhost")) is None  # a subdomain
        # An iframe and an image from 127.0.0.1 inside an allowed page still load.
        inner = site.url("/?title=inner", host="127.0.0.1")
        picture = site.url("/pixel.png", host="127.0.0.1")
        failed = failures(page)
        page.goto(site.url(f"/frame?src={inner}&img={picture}", host="localhost"))
        frame = page.frame_locator("#inner")
        assert frame.locator("#title").inner_text() == "inner"
        assert page.evaluate("document.getElementById('pic').complete") is True
        assert failed == {}
        # Refused last: Chromium commits its error page after goto has failed, which would interrupt the next.
        refused = goto_error(page, site.url("/?title=no", host="127.0.0.1"))
        assert refused is not None
        assert "net::ERR_BLOCKED_BY_CLIENT" in refused
        # A new tab and a popup are held to the same rule.
        later = context.new_page()
        refused_later = goto_error(later, site.url("/?title=later", host="127.0.0.1"))
        assert refused_later is not None
        assert "ERR_BLOCKED_BY_CLIENT" in refused_later
        opener = context.new_page()
        opener.goto(site.url("/?title=opener", host="localhost"))
        with opener.expect_popup() as popup_info:
            opener.evaluate("url => window.open(url)", site.url("/?title=popup", host="127.0.0.1"))
        popup_info.value.wait_for_url(lambda url: url.startswith("chrome-error://"), timeout=15_000)


def test_no_allowed_domains_means_no_restriction(pw: Playwright, api: httpx.Client, site: Site) -> None:
    with settings_session(pw, api, {"browserSettings": {"allowedDomains": []}}) as (browser, _):
        page = browser.contexts[0].pages[0]
        assert goto_error(page, site.url("/?title=a", host="127.0.0.1")) is None
        assert goto_error(page, site.url("/?title=b", host="localhost")) is None


@pytest.fixture(scope="module")
def https_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with Site(certificate=self_signed_certificate(tmp_path_factory.mktemp("tls"))) as running:
        yield running


def test_self_signed_https_fails_by_default(pw: Playwright, api: httpx.Client, https_site: Site) -> None:
    with settings_session(pw, api, {}) as (browser, _):
        error = goto_error(browser.contexts[0].pages[0], https_site.url("/?title=tls"))
    assert error is not None
    assert "ERR_CERT_AUTHORITY_INVALID" in error


def test_ignore_certificate_errors_loads_it(pw: Playwright, api: httpx.Client, https_site: Site) -> None:
    body = {"browserSettings": {"ignoreCertificateErrors": True}}
    with settings_session(pw, api, body) as (browser, _):
        page = browser.contexts[0].pages[0]
        assert goto_error(page, https_site.url("/?title=tls")) is None
        assert page.title() == "tls"
        later = browser.contexts[0].new_page()
        assert goto_error(later, https_site.url("/?title=tls2", host="localhost")) is None
