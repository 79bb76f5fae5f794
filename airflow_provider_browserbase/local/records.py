"""The records of a local server: sessions, contexts, extensions, and the errors about them."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_browserbase.local.chromium import BrowserProcess
    from airflow_provider_browserbase.local.config import LocalConfig
    from airflow_provider_browserbase.local.settings_agent import AppliedSettings

LIVE = frozenset({"PENDING", "RUNNING"})


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LimitExceededError(Exception):
    """
    Raised when a create would pass a limit; the app answers 429.

    :param message: Text for the error body.
    :param headers: ``x-ratelimit-*`` and ``retry-after`` headers.
    """

    def __init__(self, message: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers


class NotFoundError(Exception):
    """Raised for an unknown session, context or extension id."""


class ConflictError(Exception):
    """Raised for a context name that is already taken."""


class BrowserStartError(Exception):
    """Raised when a session's browser could not be started; the session is then ERROR."""


class ClientConnection(Protocol):
    """A CDP client connected through the proxy, closable by the registry."""

    async def close(self, reason: str) -> None: ...


@dataclass
class Context:
    """
    A saved browser profile that sessions can start from and write back to.

    :param id: Context id.
    :param name: Optional unique (case-insensitive) name.
    """

    id: str
    name: str | None
    project_id: str
    directory: Path
    created_at: dt.datetime = field(default_factory=utcnow)
    updated_at: dt.datetime = field(default_factory=utcnow)
    # Cleared while a persisting session writes back; sessions starting from the context wait on it.
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "projectId": self.project_id,
            "name": self.name,
        }


@dataclass
class Extension:
    """
    An uploaded, unpacked Chromium extension.

    :param id: Extension id.
    :param file_name: Name of the uploaded zip.
    :param directory: Folder holding the unpacked extension (its ``manifest.json``).
    """

    id: str
    file_name: str
    project_id: str
    directory: Path
    created_at: dt.datetime = field(default_factory=utcnow)
    updated_at: dt.datetime = field(default_factory=utcnow)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "fileName": self.file_name,
            "projectId": self.project_id,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }


@dataclass(eq=False)
class Session:
    """One Browserbase session and, unless the server runs ``--no-browser``, its Chromium."""

    id: str
    project_id: str
    signing_key: str = field(repr=False)
    directory: Path
    keep_alive: bool
    region: str
    timeout: float
    user_metadata: dict[str, Any] | None
    context_id: str | None
    persist: bool
    extension_id: str | None
    log_cdp: bool = True
    created_at: dt.datetime = field(default_factory=utcnow)
    started_at: dt.datetime = field(default_factory=utcnow)
    updated_at: dt.datetime = field(default_factory=utcnow)
    expires_at: dt.datetime = field(default_factory=utcnow)
    ended_at: dt.datetime | None = None
    # Set by the first release while ``release_delay`` keeps the session RUNNING.
    release_requested_at: dt.datetime | None = None
    status: str = "PENDING"
    browser: BrowserProcess | None = None
    clients: set[ClientConnection] = field(default_factory=set)
    ever_connected: bool = False
    logs: deque[dict[str, Any]] = field(default_factory=deque)
    page_ids: dict[str, int] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    teardown: asyncio.Task[None] | None = None
    # Set once the retention or the count of ended sessions dropped its logs and files.
    files_dropped: bool = False
    # Signs the session's live-view tokens (devtools.py): random, so a token cannot be derived from the id.
    live_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    # What applies the session's settings to its browser (``local/settings_agent.AppliedSettings``).
    settings: AppliedSettings | None = None

    @property
    def live(self) -> bool:
        return self.status in LIVE

    def page_id(self, cdp_session_id: str | None) -> int:
        """Number CDP target sessions 1, 2, ... in order of appearance; 0 is the browser itself."""
        if not cdp_session_id:
            return 0
        return self.page_ids.setdefault(cdp_session_id, len(self.page_ids) + 1)

    @property
    def proxy_bytes(self) -> int:
        """Bytes exchanged with the session's external proxies, as Browserbase counts ``proxyBytes``."""
        return self.settings.proxy_bytes if self.settings is not None else 0

    def browser_minutes(self) -> int:
        end = self.ended_at or utcnow()
        seconds = max(0.0, (end - self.started_at).total_seconds())
        return max(1, math.ceil(seconds / 60))

    def to_json(self, config: LocalConfig, connect: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "projectId": self.project_id,
            "startedAt": iso(self.started_at),
            "endedAt": iso(self.ended_at),
            "expiresAt": iso(self.expires_at),
            "status": self.status,
            "proxyBytes": self.proxy_bytes,
            "keepAlive": self.keep_alive,
            "region": self.region,
            "contextId": self.context_id,
            "userMetadata": self.user_metadata,
        }
        if connect:
            body["connectUrl"] = f"ws://{config.netloc}/?signingKey={self.signing_key}"
            body["seleniumRemoteUrl"] = f"{config.base_url}/webdriver"
            body["signingKey"] = self.signing_key
        return body
