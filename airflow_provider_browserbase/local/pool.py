"""Pre-started browsers that make session creates fast."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_browserbase.local.chromium import BrowserProcess, make_session_dir

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

log = logging.getLogger(__name__)


class BrowserPool:
    """
    Keep ``size`` browsers started; hand each out once and start a replacement in the background.

    A browser is never reused: a session's profile must not leak into the next session.

    :param executable: Chromium executable.
    :param base: Folder in which the session folders are made.
    :param size: Number of browsers kept ready.
    :param prepare: Called with each started browser; what it returns (something with an async
        ``close()``) is kept in :attr:`prepared` for the browser's taker (the default settings' agent).
    """

    def __init__(
        self,
        executable: str,
        base: Path,
        size: int,
        prepare: Callable[[BrowserProcess], Awaitable[Any]] | None = None,
    ) -> None:
        self.executable = executable
        self.base = base
        self.size = size
        self.prepare = prepare
        self.prepared: dict[BrowserProcess, Any] = {}
        self._ready: list[BrowserProcess] = []
        self._starting: set[asyncio.Task[None]] = set()
        self._closed = False

    def start(self) -> None:
        for _ in range(self.size):
            self._refill()

    def _refill(self) -> None:
        if self._closed or len(self._ready) + len(self._starting) >= self.size:
            return
        task = asyncio.get_running_loop().create_task(self._launch())
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _launch(self) -> None:
        browser = BrowserProcess(self.executable, make_session_dir(self.base))
        try:
            await browser.start()
            if self.prepare is not None:
                self.prepared[browser] = await self.prepare(browser)
        except Exception as exc:
            log.warning("Pre-starting a browser failed: %s", exc)
            await browser.kill()
            browser.remove_files()
            return
        if self._closed:
            await self._discard(browser)
            return
        self._ready.append(browser)

    async def _discard(self, browser: BrowserProcess) -> None:
        prepared = self.prepared.pop(browser, None)
        if prepared is not None:
            with contextlib.suppress(Exception):
                await prepared.close()
        await browser.kill()
        browser.remove_files()

    async def take(self) -> BrowserProcess | None:
        """Return a ready, still-alive browser, or ``None`` (the caller then launches one itself)."""
        while self._ready:
            browser = self._ready.pop(0)
            self._refill()
            if browser.alive:
                return browser
            await self._discard(browser)
        self._refill()
        return None

    async def close(self) -> None:
        self._closed = True
        # Not cancelled: a launch cut short could leave its Chromium running. _launch sees _closed.
        for task in list(self._starting):
            with contextlib.suppress(Exception):
                await task
        while self._ready:
            await self._discard(self._ready.pop())
