"""
What each page of a session presents: viewport, screen, user agent, client hints, touch.

A plain Browserbase session looks like the desktop Chrome of its version; headless Chromium says
``HeadlessChrome`` and has an 800 x 600 window. The profile built here is applied to every page target by
the session's settings agent (``local/settings_agent.py``) over CDP, so a pre-started browser serves too.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.cdp import CdpConnection

# Chosen: without a viewport every page is 1280 x 720 (Playwright's own default context size), not
# Chromium's 800 x 600 window. Desktop screens are at least 1920 x 1080, and never smaller than the page.
DEFAULT_VIEWPORT = (1280, 720)
DESKTOP_SCREEN = (1920, 1080)
ACCEPT_LANGUAGE = "en-US,en"
# A fixed "GREASE" brand, as Chrome sends one next to its real brands.
GREASE_BRAND = ("Not)A;Brand", "99")


@dataclass(frozen=True)
class _Os:
    ua_platform: str  # the part in parentheses of the user agent
    navigator_platform: str
    hints_platform: str
    hints_platform_version: str
    architecture: str
    bitness: str
    model: str = ""
    mobile_ua: bool = False  # "Mobile Safari" and Sec-CH-UA-Mobile ?1
    touch: bool = False
    # Device-sized viewport and pixel ratio used when the session gives no viewport (touch devices).
    device_viewport: tuple[int, int] | None = None
    device_scale_factor: float = 1.0


# Chosen devices: a current Android phone (Pixel 8 sizes) and tablet (Galaxy Tab S9 sizes); Chrome on
# Android reports "Linux; Android 10; K" in its reduced user agent and the real values in client hints.
OPERATING_SYSTEMS: dict[str, _Os] = {
    "windows": _Os("Windows NT 10.0; Win64; x64", "Win32", "Windows", "15.0.0", "x86", "64"),
    "mac": _Os("Macintosh; Intel Mac OS X 10_15_7", "MacIntel", "macOS", "14.5.0", "arm", "64"),
    "linux": _Os("X11; Linux x86_64", "Linux x86_64", "Linux", "6.1.0", "x86", "64"),
    "mobile": _Os(
        "Linux; Android 10; K", "Linux armv81", "Android", "14.0.0", "", "", "Pixel 8",
        mobile_ua=True, touch=True, device_viewport=(412, 915), device_scale_factor=2.625,
    ),
    "tablet": _Os(
        "Linux; Android 10; K", "Linux armv81", "Android", "14.0.0", "", "", "SM-X710",
        touch=True, device_viewport=(800, 1280), device_scale_factor=2.0,
    ),
}  # fmt: skip
# Chosen: without ``os`` a session presents the machine it runs on, Linux desktop Chrome.
DEFAULT_OS = "linux"


@dataclass(frozen=True)
class DeviceProfile:
    """Everything one page is told about its device."""

    os: str
    user_agent: str
    navigator_platform: str
    user_agent_metadata: dict[str, Any]
    width: int
    height: int
    screen_width: int
    screen_height: int
    device_scale_factor: float
    mobile: bool
    touch: bool
    # True when navigator.platform differs from the browser's own, so a script must keep it (see below).
    platform_script: bool = True


def chrome_version(product: str) -> str:
    """The version in a ``Browser.getVersion`` product, e.g. ``HeadlessChrome/156.0.8078.108``."""
    match = re.search(r"Chrome/([\d.]+)", product)
    if match is None:
        raise ValueError(f"cannot read a Chrome version from {product!r}")
    return match.group(1)


def device_profile(
    full_version: str, os: str | None, viewport: tuple[int, int] | None, native_user_agent: str = ""
) -> DeviceProfile:
    """
    The profile of a session's pages.

    :param full_version: Installed Chromium's version, e.g. ``156.0.8078.108``.
    :param os: ``browserSettings.os``; ``None`` presents :data:`DEFAULT_OS`.
    :param viewport: ``browserSettings.viewport`` as (width, height); ``None`` uses the device's size for
        touch devices and :data:`DEFAULT_VIEWPORT` otherwise.
    :param native_user_agent: The browser's own user agent (``Browser.getVersion``).
    """
    name = os or DEFAULT_OS
    spec = OPERATING_SYSTEMS[name]
    major = full_version.split(".", 1)[0]
    mobile_word = " Mobile" if spec.mobile_ua else ""
    # Chrome's reduced user agent: only the major version, the rest zero.
    user_agent = (
        f"Mozilla/5.0 ({spec.ua_platform}) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{major}.0.0.0{mobile_word} Safari/537.36"
    )
    brands = [
        {"brand": "Google Chrome", "version": major},
        {"brand": "Chromium", "version": major},
        {"brand": GREASE_BRAND[0], "version": GREASE_BRAND[1]},
    ]
    full_versions = [
        {"brand": "Google Chrome", "version": full_version},
        {"brand": "Chromium", "version": full_version},
        {"brand": GREASE_BRAND[0], "version": f"{GREASE_BRAND[1]}.0.0.0"},
    ]
    metadata = {
        "brands": brands,
        "fullVersionList": full_versions,
        "fullVersion": full_version,
        "platform": spec.hints_platform,
        "platformVersion": spec.hints_platform_version,
        "architecture": spec.architecture,
        "bitness": spec.bitness,
        "model": spec.model,
        "mobile": spec.mobile_ua,
        "wow64": False,
    }
    width, height = viewport or spec.device_viewport or DEFAULT_VIEWPORT
    if spec.touch:
        screen = (width, height)
    else:
        screen = (max(width, DESKTOP_SCREEN[0]), max(height, DESKTOP_SCREEN[1]))
    return DeviceProfile(
        os=name,
        user_agent=user_agent,
        navigator_platform=spec.navigator_platform,
        user_agent_metadata=metadata,
        width=width,
        height=height,
        screen_width=screen[0],
        screen_height=screen[1],
        device_scale_factor=spec.device_scale_factor if spec.touch else 1.0,
        mobile=spec.touch,
        touch=spec.touch,
        platform_script=f"({spec.ua_platform})" not in native_user_agent,
    )


def _platform_script(platform: str) -> str:
    value = json.dumps(platform)
    # A getter on Navigator.prototype, where Chromium's own navigator.platform getter lives.
    return (
        "(() => { const d = Object.getOwnPropertyDescriptor(Navigator.prototype, 'platform');"
        " Object.defineProperty(Navigator.prototype, 'platform',"
        f" {{...d, get: function platform() {{ return {value}; }}}});"
        " })();"
    )


async def apply_profile(
    conn: CdpConnection,
    session_id: str,
    profile: DeviceProfile,
    replaces_script: str | None = None,
    *,
    resume: bool = False,
) -> str:
    """
    Apply ``profile`` to the page attached as ``session_id``; it holds while that CDP session lives.

    :param replaces_script: Identifier of the platform script an earlier profile installed on this page.
    :param resume: Also let the page run (``Runtime.runIfWaitingForDebugger``), sent right after the
        overrides, before any of their answers: a CDP session handles its commands in order, so they
        are in place before the page's first script; and a tab opened without an opener (a
        ``target=_blank`` link, ``window.open(url, "_blank", "noopener")``) has no renderer until its
        first navigation, which waits for that very command, so the overrides cannot be answered first.
    :return: Identifier of the platform script installed now.
    """
    # Chromium forgets the ``platform`` of the user agent override when a navigation moves the page to a new
    # renderer process (measured on 156), while the user agent stays: navigator.platform is also set by a
    # script that runs before any of the page's own, so both always agree. The script is only installed
    # for new documents while Page is enabled. Sent together: one round trip instead of six.
    calls: list[tuple[str, dict[str, Any]]] = [
        (
            "Emulation.setDeviceMetricsOverride",
            {
                "width": profile.width,
                "height": profile.height,
                "deviceScaleFactor": profile.device_scale_factor,
                "mobile": profile.mobile,
                "screenWidth": profile.screen_width,
                "screenHeight": profile.screen_height,
            },
        ),
        (
            "Emulation.setUserAgentOverride",
            {
                "userAgent": profile.user_agent,
                "acceptLanguage": ACCEPT_LANGUAGE,
                "platform": profile.navigator_platform,
                "userAgentMetadata": profile.user_agent_metadata,
            },
        ),
        ("Emulation.setTouchEmulationEnabled", {"enabled": profile.touch, "maxTouchPoints": 5}),
    ]
    if replaces_script:
        calls.append(("Page.removeScriptToEvaluateOnNewDocument", {"identifier": replaces_script}))
    if profile.platform_script:
        # Only then: with Page enabled, a JavaScript dialog waits for a client to answer it.
        calls.append(("Page.enable", {}))
        calls.append(
            (
                "Page.addScriptToEvaluateOnNewDocument",
                {"source": _platform_script(profile.navigator_platform), "runImmediately": True},
            )
        )
    script_at = len(calls) - 1
    if resume:
        calls.append(("Runtime.runIfWaitingForDebugger", {}))
    # gather starts its tasks in this order, and each writes its command before its first await.
    results = await asyncio.gather(
        *(conn.send(method, params, session_id=session_id) for method, params in calls)
    )
    return str(results[script_at].get("identifier", "")) if profile.platform_script else ""
