"""How a create request becomes a settings plan (no browser needed)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_browserbase.local.emulation import DEFAULT_VIEWPORT, device_profile
from airflow_provider_browserbase.local.session_settings import ProxyConfigError, plan_settings
from airflow_provider_browserbase.models import SessionCreateParams


def plan(body: dict):
    return plan_settings(SessionCreateParams.model_validate(body))


def test_defaults() -> None:
    empty = plan({})
    assert empty.viewport is None
    assert empty.not_applied == ()
    assert not empty.needs_own_browser
    assert empty.log_session is True


def test_viewport_with_one_side_keeps_the_default_other_side() -> None:
    assert plan({"browserSettings": {"viewport": {"width": 900}}}).viewport == (900, DEFAULT_VIEWPORT[1])


def test_allowed_domains_are_normalized() -> None:
    domains = plan({"browserSettings": {"allowedDomains": ["*.Example.com", " .b.org ", ""]}}).allowed_domains
    assert domains == {"example.com", "b.org"}


def test_only_none_and_browserbase_proxies_need_no_proxy_of_our_own() -> None:
    only_direct = plan({"proxies": [{"type": "none"}, {"type": "browserbase"}]})
    assert only_direct.proxy_routes == ()
    assert [name for name, _ in only_direct.not_applied] == ["proxies[1] type browserbase"]


def test_routes_keep_order_and_hide_the_password() -> None:
    routed = plan(
        {
            "proxies": [
                {"type": "none", "domainPattern": r".*\.internal"},
                {"type": "external", "server": "proxy.example:3128", "username": "u", "password": "hunter22"},
            ]
        }
    )
    assert routed.needs_own_browser
    first, second = routed.proxy_routes
    assert first.upstream is None
    assert first.matches("api.internal")
    assert not first.matches("internal.example")
    assert second.upstream == ("proxy.example", 3128)
    assert "hunter22" not in repr(routed)


def test_a_bad_domain_pattern_names_the_entry() -> None:
    with pytest.raises(ProxyConfigError, match=r"body/proxies/0\.domainPattern"):
        plan({"proxies": [{"type": "external", "server": "h:1", "domainPattern": "("}]})


@pytest.mark.parametrize("server", ["http://[::1", "http://h:99999", "http://:80", "ftp://h:21"])
def test_a_bad_server_names_the_entry(server: str) -> None:
    with pytest.raises(ProxyConfigError, match=r"body/proxies/0\.server"):
        plan({"proxies": [{"type": "external", "server": server}]})


def test_profiles_are_consistent() -> None:
    windows = device_profile("156.0.8078.108", "windows", None, "Mozilla/5.0 (X11; Linux x86_64) ...")
    assert windows.user_agent.endswith("Chrome/156.0.0.0 Safari/537.36")
    assert windows.user_agent_metadata["platform"] == "Windows"
    assert windows.platform_script
    linux = device_profile("156.0.8078.108", None, (800, 600), "Mozilla/5.0 (X11; Linux x86_64) ...")
    assert not linux.platform_script  # the browser's own platform: no script needed
    assert (linux.width, linux.height, linux.screen_width, linux.screen_height) == (800, 600, 1920, 1080)
    phone = device_profile("156.0.8078.108", "mobile", None)
    assert phone.mobile
    assert phone.user_agent_metadata["mobile"] is True
    assert (phone.screen_width, phone.screen_height) == (phone.width, phone.height)
    tablet = device_profile("156.0.8078.108", "tablet", None)
    assert tablet.touch
    assert tablet.user_agent_metadata["mobile"] is False


@settings(max_examples=200, deadline=None)
@given(server=st.text(max_size=40), pattern=st.none() | st.text(max_size=20))
def test_any_proxy_entry_is_planned_or_refused_by_name(server: str, pattern: str | None) -> None:
    body = {"proxies": [{"type": "external", "server": server or "h", "domainPattern": pattern}]}
    try:
        params = SessionCreateParams.model_validate(body)
    except ValueError:
        return  # the request model refused it already
    refused = None
    try:
        planned = plan_settings(params)
    except ProxyConfigError as exc:
        refused = str(exc)
    if refused is None:
        assert planned.proxy_routes[0].upstream is not None
    else:
        assert "body/proxies/0." in refused
