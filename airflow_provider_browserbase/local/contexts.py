"""Copy browser state between a context's folder and a session's profile."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_browserbase.local.chromium import BrowserProcess

log = logging.getLogger(__name__)

# Locks, sockets and caches: tied to the old process or cheap to rebuild, so never copied.
_SKIP = shutil.ignore_patterns(
    "Singleton*",
    "DevToolsActivePort",
    "Cache",
    "Code Cache",
    "GPUCache",
    "GrShaderCache",
    "ShaderCache",
    "GraphiteDawnCache",
    "Crashpad",
    "*.tmp",
)
PROFILE = "profile"
COOKIES = "cookies.json"


def restore_profile(context_dir: Path, profile_dir: Path) -> None:
    saved = context_dir / PROFILE
    if saved.is_dir():
        shutil.copytree(saved, profile_dir, ignore=_SKIP, dirs_exist_ok=True, symlinks=True)


def save_profile(profile_dir: Path, context_dir: Path) -> None:
    staging = context_dir / f"{PROFILE}.new"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(profile_dir, staging, ignore=_SKIP, symlinks=True)
    shutil.rmtree(context_dir / PROFILE, ignore_errors=True)
    staging.rename(context_dir / PROFILE)


async def _one_call(browser: BrowserProcess, method: str, params: dict[str, Any] | None = None) -> Any:
    cdp = await browser.open_cdp()
    try:
        return await cdp.send(method, params, timeout=10.0)
    finally:
        await cdp.close()


async def save_cookies(context_dir: Path, browser: BrowserProcess) -> None:
    # Chromium drops session cookies (no expiry) from the profile at start-up; Browserbase keeps them,
    # so every cookie is saved over CDP and set again when a session starts from the context.
    try:
        result = await _one_call(browser, "Storage.getCookies")
    except Exception as exc:
        log.warning("Could not read cookies for the context: %s", exc)
        return
    (context_dir / COOKIES).write_text(json.dumps(result.get("cookies", [])))


async def restore_cookies(context_dir: Path, browser: BrowserProcess) -> None:
    path = context_dir / COOKIES
    if not path.is_file():
        return
    cookies = json.loads(path.read_text())
    if not cookies:
        return
    allowed = {
        "name", "value", "domain", "path", "secure", "httpOnly", "sameSite", "expires",
        "priority", "sameParty", "sourceScheme", "sourcePort", "partitionKey",
    }  # fmt: skip
    params = [{k: v for k, v in c.items() if k in allowed} for c in cookies]
    for cookie in params:
        if cookie.get("expires", -1) < 0:
            cookie.pop("expires", None)
    await _one_call(browser, "Storage.setCookies", {"cookies": params})


async def close_gracefully(browser: BrowserProcess, wait: float = 5.0) -> None:
    """Ask Chromium to quit so it flushes cookies and local storage to disk before the copy."""
    with contextlib.suppress(Exception):
        cdp = await browser.open_cdp()
        # No answer is awaited: Chromium may exit before it sends one.
        await cdp.send("Browser.close", timeout=min(wait, 1.0))
    if browser.process is not None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(browser.process.wait(), wait)
