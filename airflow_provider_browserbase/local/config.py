"""Settings of one ``browserbase-local`` server."""

from __future__ import annotations

import contextlib
import ipaddress
import math
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path

DEV_API_KEY = "bb_local_dev_key"
PROJECT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "browserbase-local/project"))
DATA_DIR_PREFIX = "browserbase-local-"
PID_FILE = "server.pid"
NO_SANDBOX_AS_ROOT_ENV = "BROWSERBASE_LOCAL_NO_SANDBOX_AS_ROOT"


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


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """
    Whether ``host`` (a name or an address, IPv6 with or without brackets) is this machine only.

    Of the names only ``localhost`` counts: another name may resolve to any interface, so it is treated
    as reachable from elsewhere.
    """
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


MiB = 2**20
_SECONDS = "a finite number of seconds"


@dataclass(frozen=True)
class ServerLimits:
    """
    What one client may cost the server; every field is a ``browserbase-local`` flag.

    :param max_body_size: Bytes of a JSON request body (``--max-body-size``); more answers 413.
    :param max_upload_size: Bytes of a session upload (``--max-upload-size``); it is streamed to disk
        and a larger one answers 413 and leaves no file behind.
    :param max_extension_size: Bytes of an extension zip (``--max-extension-size``).
    :param max_extension_unpacked_size: Bytes an extension zip may unpack to (``--max-extension-unpacked``).
    :param max_extension_files: Entries an extension zip may hold (``--max-extension-files``).
    :param max_ws_message_size: Bytes of one WebSocket message from a client (``--max-ws-message-size``);
        a larger one closes the socket with 1009. Messages to the client are not limited in size: they
        answer the client's own commands (a full-page screenshot can be tens of MB) and pass one at a time.
    :param max_cdp_backlog: Bytes of CDP messages that may wait for one client of the CDP proxy or one
        live view (``--max-cdp-backlog``); past it the client, which is not reading, is closed (1008) and
        the backlog dropped. The session's other clients, and the browser, are not affected.
    :param header_timeout: Seconds a client may take to send a request's headers, counted from the
        connection or the first byte of the request (``--header-timeout``); then the connection closes.
    :param body_timeout: Seconds a request body may pause between two chunks (``--body-timeout``);
        then the answer is 408.
    :param max_connections: Open connections at once, HTTP (idle keep-alive ones included) and
        WebSocket alike (``--max-connections``); past it a request or a WebSocket handshake answers 503.
    :param max_contexts: Contexts kept at once (``--max-contexts``); a create past it answers 429.
    :param max_extensions: Extensions kept at once (``--max-extensions``); an upload past it answers 429.
    :param ended_retention: Seconds an ended session keeps its logs and downloads (``--ended-retention``).
    :param max_ended_sessions: Ended sessions remembered at all (``--max-ended-sessions``); the oldest is
        forgotten (404) past it.
    """

    max_body_size: int = 1 * MiB
    max_upload_size: int = 100 * MiB
    max_extension_size: int = 50 * MiB
    max_extension_unpacked_size: int = 100 * MiB
    max_extension_files: int = 5000
    max_ws_message_size: int = 100 * MiB
    max_cdp_backlog: int = 64 * MiB
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 256
    max_contexts: int = 1000
    max_extensions: int = 100
    ended_retention: float = 3600.0
    max_ended_sessions: int = 5000

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.type == "float":
                check_seconds(spec.name, value, minimum=0.0, inclusive=False)
            else:
                check_count(spec.name, value, minimum=1)


def check_count(name: str, value: object, *, minimum: int, maximum: int | None = None) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a whole number in range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise ValueError(f"{name} must be at least {minimum}{upper}, got {value}")


def check_seconds(name: str, value: object, *, minimum: float = 0.0, inclusive: bool = True) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a finite number of seconds in range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be {_SECONDS}, got {value!r}")
    ok = (value >= minimum if inclusive else value > minimum) and value < math.inf  # also refuses nan
    if not ok:
        bound = f"{minimum:g} or more" if inclusive else f"more than {minimum:g}"
        raise ValueError(f"{name} must be {_SECONDS}, {bound}, got {value}")


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
    :param allowed_hosts: Names accepted in the ``Host`` header besides the loopback names and ``host``
        (``--allowed-host``); ``"*"`` accepts any.
    :param limits: Sizes, counts and timeouts that bound what one client may cost the server.
    :param allow_file_urls: Let clients load ``file:`` URLs (host files) in session browsers.
    :param no_sandbox_as_root: Allow starting browsers as root, where Chromium runs without its sandbox
        (default: ``$BROWSERBASE_LOCAL_NO_SANDBOX_AS_ROOT`` is ``1``).
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
    allowed_hosts: tuple[str, ...] = ()
    limits: ServerLimits = field(default_factory=ServerLimits)
    allow_file_urls: bool = False
    no_sandbox_as_root: bool = field(default_factory=lambda: os.environ.get(NO_SANDBOX_AS_ROOT_ENV) == "1")

    def __post_init__(self) -> None:
        # The same rules as the command's flags, for servers built in-process (LocalServer).
        check_count("port", self.port, minimum=0, maximum=65535)
        check_count("max_sessions", self.max_sessions, minimum=1)
        check_count("pool_size", self.pool_size, minimum=0)
        if self.creations_per_minute is not None:
            check_count("creations_per_minute", self.creations_per_minute, minimum=1)
        check_count("log_limit", self.log_limit, minimum=1)
        check_count("default_timeout", self.default_timeout, minimum=1)
        check_seconds("connect_deadline", self.connect_deadline, inclusive=False)
        check_seconds("timeout_scale", self.timeout_scale, inclusive=False)
        check_seconds("release_delay", self.release_delay)
        if self.cdp_idle_timeout is not None:
            check_seconds("cdp_idle_timeout", self.cdp_idle_timeout, inclusive=False)
        self.allowed_hosts = tuple(h.strip().lower() for h in self.allowed_hosts if h.strip())
        if not is_loopback(self.host) and self.uses_default_key:
            raise ValueError(
                f"refusing to listen on {self.host} with the default API key, which is public: anyone who "
                "can reach this port could drive its browsers and read their files. Choose your own key "
                "with --api-key KEY or the BROWSERBASE_API_KEY environment variable"
            )

    @property
    def uses_default_key(self) -> bool:
        """Whether the API key is the public development key (the ready line says so, never the key)."""
        return self.api_key == DEV_API_KEY

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.netloc}"
