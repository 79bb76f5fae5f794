"""Pre-started browsers that make session creates fast."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from airflow_provider_browserbase.local.chromium import BrowserProcess, make_session_dir

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)


class BrowserPool:
    """
    Keep ``size`` browsers started; hand each out once and start a replacement in the background.

    A browser is never reused: a session's profile must not leak into the next session.

    :param executable: Chromium executable.
    :param base: Folder in which the session folders are made.
    :param size: Number of browsers kept ready.
    """

    def __init__(self, executable: str, base: Path, size: int) -> None:
        self.executable = executable
        self.base = base
        self.size = size
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
        except Exception as exc:
            log.warning("Pre-starting a browser failed: %s", exc)
            await browser.kill()
            browser.remove_files()
            return
        if self._closed:
            await browser.kill()
            browser.remove_files()
            return
        self._ready.append(browser)

    async def take(self) -> BrowserProcess | None:
        """Return a ready, still-alive browser, or ``None`` (the caller then launches one itself)."""
        while self._ready:
            browser = self._ready.pop(0)
            self._refill()
            if browser.alive:
                return browser
            await browser.kill()
            browser.remove_files()
        self._refill()
        return None

    async def close(self) -> None:
        self._closed = True
        # Not cancelled: a launch cut short could leave its Chromium running. _launch sees _closed.
        for task in list(self._starting):
            with contextlib.suppress(Exception):
                await task
        while self._ready:
            browser = self._ready.pop()
            await browser.kill()
            browser.remove_files()
