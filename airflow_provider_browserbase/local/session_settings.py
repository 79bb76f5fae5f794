"""
Which of a session's settings ``browserbase-local`` applies, how, and which it cannot reproduce.

:func:`plan_settings` turns a validated create request into a :class:`SettingsPlan` before any browser
starts, so a setting it cannot use (an unsupported proxy) is a 400 naming the field. Everything the
plan cannot apply is listed in :attr:`SettingsPlan.not_applied`; the server logs that once and makes it
the first entry of the session's logs (:func:`not_applied_log_entry`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_browserbase.local.netpolicy import NetworkPolicy, normalize_domain
from airflow_provider_browserbase.local.upstream_proxy import (
    ProxyConfigError,
    ProxyRoute,
    direct_route,
    external_route,
)

if TYPE_CHECKING:
    from airflow_provider_browserbase.models import SessionCreateParams

NOT_APPLIED_METHOD = "browserbase-local.settingsNotApplied"


@dataclass(frozen=True)
class SettingsPlan:
    """
    What a session's browser is set up with.

    :param viewport: (width, height), or ``None`` for the default (see ``local/emulation.py``).
    :param os: ``browserSettings.os`` or ``None``.
    :param block_ads: ``browserSettings.blockAds``.
    :param allowed_domains: Normalized ``browserSettings.allowedDomains``; empty = no restriction.
    :param ignore_certificate_errors: ``browserSettings.ignoreCertificateErrors``.
    :param proxy_routes: The routes for the session's forwarding proxy; empty = no proxy, all direct.
    :param log_session: ``browserSettings.logSession`` (default true).
    :param record_session: ``browserSettings.recordSession`` (default true): screencast every page
        (``local/recording.py``).
    :param not_applied: (setting, why) for each setting accepted but not reproducible locally.
    """

    viewport: tuple[int, int] | None = None
    os: str | None = None
    block_ads: bool = False
    allowed_domains: frozenset[str] = frozenset()
    ignore_certificate_errors: bool = False
    proxy_routes: tuple[ProxyRoute, ...] = ()
    log_session: bool = True
    record_session: bool = True
    not_applied: tuple[tuple[str, str], ...] = field(default=())

    @property
    def needs_own_browser(self) -> bool:
        """True when a launch flag is needed, so a pre-started browser cannot serve (the proxy)."""
        return bool(self.proxy_routes)

    def network_policy(self, blocked_hosts: frozenset[str]) -> NetworkPolicy:
        return NetworkPolicy(
            blocked_hosts=blocked_hosts if self.block_ads else frozenset(),
            allowed_domains=self.allowed_domains,
        )

    def not_applied_text(self) -> str:
        """One line naming each setting accepted but not applied, and why."""
        items = "; ".join(f"{name}: {why}" for name, why in self.not_applied)
        return f"browserbase-local accepted these settings but cannot apply them locally: {items}"


def _viewport(params: SessionCreateParams) -> tuple[int, int] | None:
    settings = params.browser_settings
    viewport = settings.viewport if settings else None
    if viewport is None or (viewport.width is None and viewport.height is None):
        return None
    from airflow_provider_browserbase.local.emulation import DEFAULT_VIEWPORT

    # Chosen: a viewport giving one side only keeps the default for the other.
    return (viewport.width or DEFAULT_VIEWPORT[0], viewport.height or DEFAULT_VIEWPORT[1])


def _proxy_plan(params: SessionCreateParams) -> tuple[tuple[ProxyRoute, ...], list[tuple[str, str]]]:
    """Routes for the forwarding proxy (only when an external proxy is named) and what cannot be done."""
    proxies = params.proxies
    skipped: list[tuple[str, str]] = []
    if proxies is True:
        skipped.append(
            ("proxies: true", "Browserbase's managed proxies do not exist locally; it goes direct")
        )
        return (), skipped
    if not proxies:
        return (), skipped
    routes: list[ProxyRoute] = []
    for index, proxy in enumerate(proxies):
        where = f"body/proxies/{index}"
        if proxy.type == "external":
            password = proxy.password.get_secret_value() if proxy.password is not None else None
            routes.append(external_route(proxy.server, proxy.username, password, proxy.domain_pattern, where))
        elif proxy.type == "none":
            routes.append(direct_route(proxy.domain_pattern, where))
        else:
            geo = f" with geolocation {proxy.geolocation.country}" if proxy.geolocation else ""
            skipped.append(
                (
                    f"proxies[{index}] type browserbase{geo}",
                    "Browserbase's residential network does not exist locally; "
                    "the hosts it would carry go direct",
                )
            )
            # Kept as a direct route, so the entries after it still only see the hosts it does not match.
            routes.append(direct_route(proxy.domain_pattern, where))
    if not any(route.upstream is not None for route in routes):
        return (), skipped
    return tuple(routes), skipped


def plan_settings(params: SessionCreateParams) -> SettingsPlan:
    """
    The plan for a create request.

    :raises ProxyConfigError: for a proxy entry that cannot be used (the message names it).
    """
    settings = params.browser_settings
    skipped: list[tuple[str, str]] = []
    routes, proxy_skipped = _proxy_plan(params)
    skipped.extend(proxy_skipped)
    if settings is not None:
        if settings.solve_captchas:
            skipped.append(("solveCaptchas", "no captcha solver runs locally"))
        for name, value in (
            ("captchaImageSelector", settings.captcha_image_selector),
            ("captchaInputSelector", settings.captcha_input_selector),
        ):
            if value:
                skipped.append((name, "no captcha solver runs locally"))
        if settings.advanced_stealth:
            skipped.append(("advancedStealth", "Browserbase's stealth browser is not available locally"))
        if settings.verified:
            skipped.append(("verified", "Browserbase's verified browser identity is not available locally"))
        if settings.fingerprint:
            skipped.append(
                ("fingerprint", "fingerprint options are not applied locally (os and viewport are)")
            )
    if params.region is not None:
        skipped.append((f"region {params.region}", "every local session runs on this machine"))
    if params.proxy_settings is not None and params.proxy_settings.ca_certificates:
        skipped.append(
            ("proxySettings.caCertificates", "Browserbase's certificate store does not exist locally")
        )
    listed = settings.allowed_domains if settings is not None and settings.allowed_domains else []
    domains = frozenset(filter(None, (normalize_domain(d) for d in listed)))
    return SettingsPlan(
        viewport=_viewport(params),
        os=settings.os if settings else None,
        block_ads=bool(settings and settings.block_ads),
        allowed_domains=domains,
        ignore_certificate_errors=bool(settings and settings.ignore_certificate_errors),
        proxy_routes=routes,
        log_session=not (settings is not None and settings.log_session is False),
        record_session=not (settings is not None and settings.record_session is False),
        not_applied=tuple(skipped),
    )


def not_applied_log_entry(session_id: str, plan: SettingsPlan) -> dict[str, Any]:
    """The session's first log entry, shaped like the official SDK's ``SessionLog``."""
    now = int(time.time() * 1000)
    params = {
        "message": plan.not_applied_text(),
        "settings": [{"setting": name, "reason": why} for name, why in plan.not_applied],
    }
    return {
        "method": NOT_APPLIED_METHOD,
        "pageId": 0,
        "sessionId": session_id,
        "timestamp": now,
        "request": {"params": params, "rawBody": json.dumps(params), "timestamp": now},
        "response": {"result": {}, "rawBody": "{}", "timestamp": now},
    }


__all__ = ["ProxyConfigError", "SettingsPlan", "not_applied_log_entry", "plan_settings"]
