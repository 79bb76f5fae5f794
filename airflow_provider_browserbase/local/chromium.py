"""Find, launch and stop the headless Chromium processes behind local sessions."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import functools
import logging
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_provider_browserbase.local.cdp import CdpError
from airflow_provider_browserbase.local.cdp_mux import CdpMux, MuxCdpConnection
from airflow_provider_browserbase.local.config import NO_SANDBOX_AS_ROOT_ENV

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_browserbase.local.cdp import CdpConnection
    from airflow_provider_browserbase.local.cdp_mux import CdpChannel

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
    # CDP over fds 3 and 4, never a TCP port: any local user could drive a browser on a port, bypassing
    # the signing key (see cdp_mux.py).
    "--remote-debugging-pipe",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--enable-features=CDPScreenshotNewSurface",
    # PreloadTopChromeWebUI and the WebUIOmnibox* features: headless Chromium 156 still preloads the
    # omnibox popup's WebUI pages (chrome://omnibox-popup.top-chrome/, browser UI no page can reach or
    # see, and headless shows no omnibox) in a renderer of their own: 60-80 MB PSS and ~0.5 CPU s per
    # browser start, measured in benchmarks/bench_memory.py (issue 17).
    "--disable-features=PaintHolding,MediaRouter,OptimizationHints,HttpsUpgrades,PreloadTopChromeWebUI,"
    "WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup",
    "--hide-scrollbars",
    "--mute-audio",
    "--password-store=basic",
    "--use-mock-keychain",
    # navigator.webdriver is true in any browser driven over CDP without this; Browserbase's is false.
    "--disable-blink-features=AutomationControlled",
)


class ChromiumNotFoundError(RuntimeError):
    """Raised when no Chromium executable can be found."""


class RunningAsRootError(RuntimeError):
    """Raised when browsers would start as root and ``--no-sandbox-as-root`` was not given."""


def check_root(allowed: bool) -> None:
    """
    Refuse to run browsers as root unless ``allowed`` (``--no-sandbox-as-root``).

    Chromium cannot use its sandbox as root (``--no-sandbox``), so a page that exploits the renderer runs
    as root. Dropping privileges instead was considered and not chosen: it needs a dedicated user who owns
    the data folder, Chromium's files and every upload, which a container or a laptop rarely has; an
    explicit opt-in keeps the risk visible where it is taken (CI containers, throwaway machines).
    """
    if os.geteuid() == 0 and not allowed:
        raise RunningAsRootError(
            "refusing to start browsers as root: Chromium would run without its sandbox, so a malicious "
            "page could take over the machine. Run browserbase-local as an ordinary user, or accept the "
            f"risk with --no-sandbox-as-root ({NO_SANDBOX_AS_ROOT_ENV}=1), e.g. in a throwaway container"
        )


class ChromiumLaunchError(RuntimeError):
    """Raised when Chromium exits or stalls before it answers its first CDP command."""


# Chromium reads CDP from fd 3 and writes to fd 4.
PIPE_FDS = (3, 4)
_reserved_fds: list[int] = []


def _reserve_pipe_fds() -> None:
    # subprocess marks every kept fd inheritable before preexec_fn runs, which fails for a closed one; a
    # server always has fds 3 and 4 open, but a bare process may not: hold them with /dev/null then.
    for fd in PIPE_FDS:
        try:
            os.fstat(fd)
        except OSError:
            _reserved_fds.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))


def _high_fd(fd: int) -> int:
    # Above 4, so the child's dup2 onto 3 and 4 cannot overwrite the other end first.
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class _PipeReader(asyncio.Protocol):
    """Split what Chromium writes on fd 4 into NUL-terminated messages for the multiplexer."""

    def __init__(self, mux: CdpMux) -> None:
        self.mux = mux
        self.parts: list[bytes] = []

    def data_received(self, data: bytes) -> None:
        while data:
            end = data.find(b"\0")
            if end < 0:
                self.parts.append(data)
                return
            chunk = data[:end]
            if self.parts:
                chunk = b"".join((*self.parts, chunk))
                self.parts = []
            data = data[end + 1 :]
            try:
                self.mux.feed(chunk.decode("utf-8", errors="replace"))
            except Exception:
                log.exception("Routing a CDP message from Chromium failed")

    def connection_lost(self, exc: Exception | None) -> None:
        self.mux.close()


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


def _child_setup(reads: int, writes: int) -> None:
    # Also between fork and exec: Chromium's end of the CDP pipe onto fds 3 and 4 (dup2 clears CLOEXEC).
    _die_with_parent()
    os.dup2(reads, PIPE_FDS[0])
    os.dup2(writes, PIPE_FDS[1])


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
        self.mux: CdpMux | None = None
        self._pipe_transports: list[asyncio.BaseTransport] = []
        self.started_at = 0.0
        self.short_tmp: Path | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self, ready_timeout: float = 20.0) -> None:
        """Launch Chromium (from the event-loop thread, see ``_die_with_parent``) and wait for its answer."""
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
        _reserve_pipe_fds()
        to_chromium, from_us = os.pipe()
        from_chromium, to_us = os.pipe()
        child_reads, child_writes = _high_fd(to_chromium), _high_fd(to_us)
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
                pass_fds=PIPE_FDS,
                preexec_fn=functools.partial(_child_setup, child_reads, child_writes),
            )
        except BaseException:
            os.close(from_us)
            os.close(from_chromium)
            raise
        finally:
            logfile.close()
            os.close(child_reads)
            os.close(child_writes)
        self.started_at = time.monotonic()
        await self._connect_pipe(from_us, from_chromium)
        await self._wait_ready(ready_timeout)

    async def _connect_pipe(self, writes: int, reads: int) -> None:
        loop = asyncio.get_running_loop()
        writer, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(writes, "wb", buffering=0))

        def write(text: str) -> None:
            if not writer.is_closing():
                writer.write(text.encode() + b"\0")

        mux = CdpMux(write)
        reads_file = os.fdopen(reads, "rb", buffering=0)
        reader, _ = await loop.connect_read_pipe(lambda: _PipeReader(mux), reads_file)
        self.mux = mux
        self._pipe_transports = [writer, reader]

    async def _wait_ready(self, ready_timeout: float) -> None:
        assert self.process is not None
        assert self.mux is not None
        try:
            await self.mux.call("Browser.getVersion", timeout=ready_timeout)
        except CdpError:
            code = await self.process.wait()
            raise ChromiumLaunchError(
                f"Chromium exited with code {code} before it answered over CDP: {self.log_tail()}"
            ) from None
        except TimeoutError:
            await self.kill()
            raise ChromiumLaunchError(
                f"Chromium did not answer over CDP within {ready_timeout:.0f} s"
            ) from None

    async def open_channel(self, deliver: Callable[[str | None], None]) -> CdpChannel:
        """A browser-level CDP channel for one client (see :mod:`cdp_mux`)."""
        if self.mux is None or self.mux.closed:
            raise CdpError("the browser is not running")
        return await self.mux.open_channel(deliver)

    async def open_cdp(self) -> CdpConnection:
        """A browser-level CDP connection of the server's own, never handed to a client."""
        if self.mux is None or self.mux.closed:
            raise CdpError("the browser is not running")
        return await MuxCdpConnection.open(self.mux)

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
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        # Helpers of a browser that died on its own may still be in the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        for transport in self._pipe_transports:
            transport.close()
        if self.mux is not None:
            self.mux.close()

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
