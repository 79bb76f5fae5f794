"""Settings of one ``browserbase-local`` server."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

DEV_API_KEY = "bb_local_dev_key"
PROJECT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "browserbase-local/project"))
DATA_DIR_PREFIX = "browserbase-local-"
PID_FILE = "server.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_orphaned_data_dirs() -> int:
    """Remove temporary data folders of servers that were killed before cleaning up; return how many."""
    removed = 0
    for folder in Path(tempfile.gettempdir()).glob(f"{DATA_DIR_PREFIX}*"):
        with contextlib.suppress(OSError, ValueError):
            pid = int((folder / PID_FILE).read_text())
            # A folder without a pid file may be one being made right now: left alone.
            if not _alive(pid):
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
    return removed


def make_own_data_dir() -> Path:
    """A fresh temporary data folder, tagged with this process's pid for :func:`sweep_orphaned_data_dirs`."""
    sweep_orphaned_data_dirs()
    folder = Path(tempfile.mkdtemp(prefix=DATA_DIR_PREFIX))
    (folder / PID_FILE).write_text(str(os.getpid()))
    return folder


def default_api_key() -> str:
    """Return ``BROWSERBASE_API_KEY`` if set, else the fixed development key."""
    return os.environ.get("BROWSERBASE_API_KEY") or DEV_API_KEY


@dataclass
class LocalConfig:
    """
    Settings shared by the app, the session registry and the browser launcher.

    :param host: Interface the server binds to; also used in every URL it hands out.
    :param port: Bound port (the real one, after a free port was picked).
    :param api_key: Value required in ``X-BB-API-Key``.
    :param max_sessions: Live sessions allowed at once (the project's concurrency).
    :param pool_size: Browsers kept pre-started for fast creates.
    :param chromium: Chromium executable; found automatically when ``None``.
    :param data_dir: Folder for session, context and extension files.
    :param no_browser: Serve API-only sessions without starting Chromium.
    :param connect_deadline: Seconds a new session waits for its first CDP client.
    :param creations_per_minute: Session creations allowed per rolling minute (``None`` = unlimited).
    :param default_timeout: Session lifetime in seconds when a create gives none.
    :param timeout_scale: Factor applied to session timeouts; tests use it to make the 60 s minimum short.
    :param enable_admin: Serve ``/_admin`` fault-injection endpoints.
    :param cdp_idle_timeout: Seconds without a CDP command from a client after which its connection is
        closed, as Browserbase does after 10 minutes (``None``: never).
    :param release_delay: Seconds between a release (``REQUEST_RELEASE``, or the last client's disconnect
        without ``keepAlive``) and the session's end, as Browserbase releases asynchronously; the session
        stays RUNNING, with its browser and clients, until then. 0 ends it at once.
    :param log_limit: CDP request/response pairs kept per session for ``/logs``.
    :param adblock_list: Host list that ``blockAds`` blocks instead of the built-in one (``--adblock-list``).
    :param project_id: Id of the one synthetic project.
    """

    host: str = "127.0.0.1"
    port: int = 8787
    api_key: str = field(default_factory=default_api_key, repr=False)
    max_sessions: int = 4
    pool_size: int = 0
    chromium: str | None = None
    data_dir: Path = field(default_factory=lambda: Path("."))
    no_browser: bool = False
    connect_deadline: float = 300.0
    creations_per_minute: int | None = None
    default_timeout: int = 300
    timeout_scale: float = 1.0
    enable_admin: bool = False
    cdp_idle_timeout: float | None = 600.0
    release_delay: float = 0.0
    log_limit: int = 1000
    adblock_list: Path | None = None
    project_id: str = PROJECT_ID

    def __post_init__(self) -> None:
        if not 0 <= self.release_delay < math.inf:  # also refuses nan
            raise ValueError("release_delay must be a finite number of seconds, 0 or more")

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.netloc}"
