"""Find, launch and stop the headless Chromium processes behind local sessions."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.cdp import CdpConnection

log = logging.getLogger(__name__)

CHROMIUM_ENV = "BROWSERBASE_LOCAL_CHROMIUM"
PATH_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Debian's /usr/bin/chromium is a shell wrapper adding switches of its own; the binary behind it is used.
DEBIAN_WRAPPERS = {"/usr/bin/chromium": "/usr/lib/chromium/chromium"}
# Chromium puts its SingletonSocket at $TMPDIR/org.chromium.Chromium.XXXXXX/SingletonSocket (46 more
# characters); a Unix socket path has at most 107, and Chromium aborts when it is longer.
MAX_TMPDIR_CHARS = 60
SESSION_DIR_PREFIX = "bb-"
SUBDIRS = ("profile", "temp", "downloads", "uploads", "xdg-config", "xdg-cache")

# Why each flag is here is measured in ../shared/reference/chromium-cdp.md §3 and §9. Never add
# --disable-crashpad-for-testing: every page.goto fails with it.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-default-browser-check",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--enable-features=CDPScreenshotNewSurface",
    "--disable-features=PaintHolding,MediaRouter,OptimizationHints,HttpsUpgrades",
    "--hide-scrollbars",
    "--mute-audio",
    "--password-store=basic",
    "--use-mock-keychain",
    # navigator.webdriver is true in any browser driven over CDP without this; Browserbase's is false.
    "--disable-blink-features=AutomationControlled",
)


class ChromiumNotFoundError(RuntimeError):
    """Raised when no Chromium executable can be found."""


class ChromiumLaunchError(RuntimeError):
    """Raised when Chromium exits or stalls before its DevTools endpoint is ready."""


def _playwright_chromium() -> str | None:
    root = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright")
    if not root.is_dir():
        return None
    for candidate in sorted(root.glob("chromium-*/chrome-linux*/chrome"), reverse=True):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def find_chromium(explicit: str | None = None) -> str:
    """
    Return the Chromium executable to use.

    Order: ``explicit`` (``--chromium``), ``$BROWSERBASE_LOCAL_CHROMIUM``, Playwright's own installed
    Chromium, then ``chromium`` / ``chromium-browser`` / ``google-chrome`` on ``PATH``.
    """
    for configured in (explicit, os.environ.get(CHROMIUM_ENV)):
        if configured:
            resolved = shutil.which(configured)
            if resolved is None:
                raise ChromiumNotFoundError(
                    f"Chromium executable {configured!r} does not exist or is not executable"
                )
            return resolved
    found = _playwright_chromium()
    if found:
        return found
    for name in PATH_NAMES:
        resolved = shutil.which(name)
        if resolved:
            binary = DEBIAN_WRAPPERS.get(resolved)
            return binary if binary and os.access(binary, os.X_OK) else resolved
    raise ChromiumNotFoundError(
        "No Chromium found: pass --chromium PATH, set BROWSERBASE_LOCAL_CHROMIUM, "
        "or install it with `apt-get install -y chromium`"
    )


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: if the server thread that spawned the browser dies,
    # the kernel kills the browser, so a SIGKILLed server leaves no orphans.
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def make_session_dir(base: Path) -> Path:
    """Create ``base/bb-XXXX`` with the per-session sub-folders."""
    path = Path(tempfile.mkdtemp(prefix=SESSION_DIR_PREFIX, dir=base))
    for name in SUBDIRS:
        (path / name).mkdir()
    return path


def sweep_stale_dirs(base: Path) -> int:
    """Remove session folders a previous, killed server left behind; return how many."""
    removed = 0
    for stale in base.glob(f"{SESSION_DIR_PREFIX}*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
            removed += 1
    return removed


class BrowserProcess:
    """
    One Chromium process in its own session folder.

    :param executable: Chromium executable.
    :param directory: Session folder made by :func:`make_session_dir`; Chromium's cwd, so a relative
        ``downloadPath: "downloads"`` lands in ``directory/downloads``.
    :param extra_args: Additional switches (extensions).
    """

    def __init__(self, executable: str, directory: Path, extra_args: tuple[str, ...] = ()) -> None:
        self.executable = executable
        self.directory = directory
        self.extra_args = extra_args
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0
        self.browser_path = ""
        self.started_at = 0.0
        self.short_tmp: Path | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.browser_path}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self, ready_timeout: float = 20.0) -> None:
        """Launch Chromium (from the event-loop thread, see ``_die_with_parent``) and wait for DevTools."""
        d = self.directory
        tmp = d / "temp"
        if len(str(tmp)) > MAX_TMPDIR_CHARS:
            self.short_tmp = Path(tempfile.mkdtemp(prefix=f"{SESSION_DIR_PREFIX}tmp-"))
            tmp = self.short_tmp
        env = dict(os.environ)
        env.update(
            TMPDIR=str(tmp),
            XDG_CONFIG_HOME=str(d / "xdg-config"),
            XDG_CACHE_HOME=str(d / "xdg-cache"),
        )
        # Opened in-thread on purpose: a local file, and the child inherits it. Closed below.
        logfile = open(d / "chromium.log", "wb")  # noqa: SIM115, ASYNC230
        try:
            self.process = await asyncio.create_subprocess_exec(
                self.executable,
                *FLAGS,
                *self.extra_args,
                f"--user-data-dir={d / 'profile'}",
                "about:blank",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=logfile,
                stderr=logfile,
                cwd=str(d),
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            logfile.close()
        self.started_at = time.monotonic()
        port_file = d / "profile" / "DevToolsActivePort"
        deadline = time.monotonic() + ready_timeout
        while True:
            if self.process.returncode is not None:
                raise ChromiumLaunchError(
                    f"Chromium exited with code {self.process.returncode} before DevTools was ready: "
                    f"{self.log_tail()}"
                )
            with contextlib.suppress(OSError, ValueError):
                lines = port_file.read_text().split("\n")
                if len(lines) >= 2 and lines[1].strip():
                    self.port = int(lines[0])
                    self.browser_path = lines[1].strip()
                    return
            if time.monotonic() > deadline:
                await self.kill()
                raise ChromiumLaunchError(f"Chromium DevTools not ready after {ready_timeout:.0f} s")
            await asyncio.sleep(0.01)

    async def open_cdp(self) -> CdpConnection:
        """A browser-level CDP connection of its own, for the server's features (see ``local/cdp.py``)."""
        from airflow_provider_browserbase.local._ws_cdp import WsCdpConnection

        return await WsCdpConnection.open(self.ws_url)

    def log_tail(self, limit: int = 800) -> str:
        try:
            return (self.directory / "chromium.log").read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    async def kill(self, grace: float = 3.0) -> None:
        """Stop the whole process group: TERM, up to ``grace`` seconds, KILL, then reap."""
        proc = self.process
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        # Helpers of a browser that died on its own may still be in the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    def remove_files(self, keep: tuple[str, ...] = ()) -> None:
        """Delete the session folder, except the named sub-folders."""
        if self.short_tmp is not None:
            shutil.rmtree(self.short_tmp, ignore_errors=True)
        if not keep:
            shutil.rmtree(self.directory, ignore_errors=True)
            return
        for child in self.directory.iterdir():
            if child.name in keep:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
