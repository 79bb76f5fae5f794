"""``proxies`` on real Chromium: an authenticating forward proxy, domainPattern routing, proxyBytes."""

from __future__ import annotations

import json
import logging
import socket
from typing import TYPE_CHECKING, Any

import pytest
from settings_session import settings_session
from settings_sites import ForwardProxy, Site, self_signed_certificate

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx
    from playwright.sync_api import Playwright

    from airflow_provider_browserbase.local.server import LocalServer

pytestmark = pytest.mark.browser

USER = "proxy-user"
PASSWORD = "pw-Zq81-very-secret"  # a test credential that must never be logged


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site() as running:
        yield running


@pytest.fixture(scope="module")
def https_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with Site(certificate=self_signed_certificate(tmp_path_factory.mktemp("tls"))) as running:
        yield running


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy(USER, PASSWORD) as running:
        yield running


def external(proxy: ForwardProxy, **extra: Any) -> dict[str, Any]:
    return {"type": "external", "server": proxy.address, "username": USER, "password": PASSWORD, **extra}


def pages_through(proxy: ForwardProxy, site: Site) -> list[str]:
    """The test site's pages the proxy carried (not favicons, nor Chromium's own update checks)."""
    return [t for t in proxy.targets() if f":{site.port}/" in t and not t.endswith("/favicon.ico")]


def title_of(pw: Playwright, browser: Any, url: str) -> str:
    page = browser.contexts[0].pages[0]
    page.goto(url)
    return page.title()


def test_a_request_body_goes_through_the_external_proxy(
    pw: Playwright, api: httpx.Client, site: Site, proxy: ForwardProxy
) -> None:
    """A POST whose server answers only after reading the body (a login form) is not left waiting."""
    with settings_session(pw, api, {"proxies": [external(proxy)]}) as (browser, _):
        page = browser.contexts[0].pages[0]
        page.goto(site.url("/?title=form"))
        sent = 200_000
        received = page.evaluate(
            "async (size) => (await fetch('/submit', {method: 'POST', body: 'x'.repeat(size)})).text()", sent
        )
    assert received == str(sent)
    assert f"http://127.0.0.1:{site.port}/submit" in proxy.targets()


def test_external_proxy_carries_http_and_https_with_credentials(
    pw: Playwright,
    api: httpx.Client,
    server: LocalServer,
    site: Site,
    https_site: Site,
    proxy: ForwardProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="airflow_provider_browserbase")
    body = {"proxies": [external(proxy)], "browserSettings": {"ignoreCertificateErrors": True}}
    with settings_session(pw, api, body) as (browser, created):
        assert title_of(pw, browser, site.url("/?title=plain")) == "plain"
        assert title_of(pw, browser, https_site.url("/?title=tls", host="localhost")) == "tls"
        running = api.get(f"/v1/sessions/{created['id']}").json()
        logs = api.get(f"/v1/sessions/{created['id']}/logs").text
    # Loopback targets too: Chromium sends them direct unless told otherwise.
    assert f"http://127.0.0.1:{site.port}/?title=plain" in proxy.targets()
    assert f"localhost:{https_site.port}" in proxy.targets()
    assert all(ok for _, _, ok in proxy.seen), proxy.seen
    assert running["proxyBytes"] > 1000
    ended = api.get(f"/v1/sessions/{created['id']}").json()
    assert ended["proxyBytes"] >= running["proxyBytes"]
    usage = api.get(f"/v1/projects/{ended['projectId']}/usage").json()
    assert usage["proxyBytes"] >= ended["proxyBytes"]
    assert PASSWORD not in logs
    assert PASSWORD not in caplog.text


def test_domain_pattern_routes_first_match_and_none_goes_direct(
    pw: Playwright, api: httpx.Client, site: Site, proxy: ForwardProxy
) -> None:
    proxies = [external(proxy, domainPattern="localhost"), {"type": "none"}]
    with settings_session(pw, api, {"proxies": proxies}) as (browser, _):
        assert title_of(pw, browser, site.url("/?title=via", host="localhost")) == "via"
        assert title_of(pw, browser, site.url("/?title=direct", host="127.0.0.1")) == "direct"
    assert pages_through(proxy, site) == [f"http://localhost:{site.port}/?title=via"]


def test_type_none_first_wins_over_a_later_proxy(
    pw: Playwright, api: httpx.Client, site: Site, proxy: ForwardProxy
) -> None:
    proxies = [{"type": "none", "domainPattern": r"127\.0\.0\.1"}, external(proxy)]
    with settings_session(pw, api, {"proxies": proxies}) as (browser, created):
        assert title_of(pw, browser, site.url("/?title=direct", host="127.0.0.1")) == "direct"
        assert title_of(pw, browser, site.url("/?title=via", host="localhost")) == "via"
        assert api.get(f"/v1/sessions/{created['id']}").json()["proxyBytes"] > 0
    assert pages_through(proxy, site) == [f"http://localhost:{site.port}/?title=via"]


def test_without_proxies_nothing_goes_through_a_proxy(
    pw: Playwright, api: httpx.Client, site: Site, proxy: ForwardProxy
) -> None:
    with settings_session(pw, api, {}) as (browser, created):
        assert title_of(pw, browser, site.url("/?title=plain")) == "plain"
        assert api.get(f"/v1/sessions/{created['id']}").json()["proxyBytes"] == 0
    assert proxy.seen == []


def test_wrong_proxy_password_fails_without_revealing_it(
    pw: Playwright, api: httpx.Client, site: Site, proxy: ForwardProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="airflow_provider_browserbase")
    wrong = "wrong-Xy77-password"
    body = {"proxies": [{**external(proxy), "password": wrong}]}
    with settings_session(pw, api, body) as (browser, created):
        page = browser.contexts[0].pages[0]
        page.goto(site.url("/?title=never", host="localhost"))  # the proxy's 502 page
        assert page.title() != "never"
        assert "answered 407" in page.inner_text("body")
        logs = api.get(f"/v1/sessions/{created['id']}/logs").text
    assert proxy.seen
    assert not any(ok for _, _, ok in proxy.seen)
    assert "answered 407" in caplog.text
    assert wrong not in caplog.text
    assert wrong not in logs


def test_only_the_sessions_own_browser_may_use_its_proxy(
    pw: Playwright, api: httpx.Client, server: LocalServer, site: Site, proxy: ForwardProxy
) -> None:
    with settings_session(pw, api, {"proxies": [external(proxy)]}) as (_, created):
        assert server.app is not None
        session = server.app.state.registry.sessions[created["id"]]
        port = session.settings.proxy.port
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(f"GET {site.url('/?title=stolen')} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 403")
    assert all("stolen" not in target for target in proxy.targets())


@pytest.mark.parametrize(
    ("proxies", "message"),
    [
        ([{"type": "external", "server": "socks5://127.0.0.1:1080"}], "body/proxies/0.server"),
        (
            [{"type": "none"}, {"type": "external", "server": "http://127.0.0.1:9", "domainPattern": "(["}],
            "body/proxies/1.domainPattern",
        ),
        ([{"type": "external", "server": "http://u:p@127.0.0.1:9"}], "must not carry credentials"),
    ],
)
def test_unusable_proxies_are_refused_before_any_browser_starts(
    api: httpx.Client, proxies: list[dict[str, Any]], message: str
) -> None:
    response = api.post("/v1/sessions", json={"proxies": proxies})
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert "u:p@" not in json.dumps(response.json())
