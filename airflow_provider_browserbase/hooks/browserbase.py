"""
The Browserbase hook: every call to the Browserbase REST API goes through here.

This module is the public face only. Each method is one line: it asks a resource module (``sessions``,
``session_downloads``, ``contexts``, ...) for the operation, and a driver (``_drivers``) carries it out
with the call context (``_context``) resolved first: with ``get_connection`` for a sync method, with
``aget_connection`` for its ``a``-prefixed async twin.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time
import warnings
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

import httpx
from airflow.providers.common.compat.sdk import BaseHook, mask_secret

from airflow_provider_browserbase import __version__
from airflow_provider_browserbase.exceptions import BrowserbaseError
from airflow_provider_browserbase.hooks import (
    contexts,
    extensions,
    projects,
    recordings,
    session_downloads,
    session_logs,
    session_uploads,
    sessions,
)
from airflow_provider_browserbase.hooks import fetch as fetch_api
from airflow_provider_browserbase.hooks import search as search_api
from airflow_provider_browserbase.hooks._connection import (
    ConnectionSettings,
    CredentialsInHostError,
    project_id_from_extra,
    resolve_base_url,
)
from airflow_provider_browserbase.hooks._context import CallContext
from airflow_provider_browserbase.hooks._downloads import DEFAULT_MAX_FILES, DEFAULT_MAX_TOTAL_BYTES
from airflow_provider_browserbase.hooks._drivers import run_async, run_sync
from airflow_provider_browserbase.hooks.connection_form import (
    CONN_FIELDS,
    UI_FIELD_BEHAVIOUR,
    ui_field_behaviour_for_python_api,
)
from airflow_provider_browserbase.models import build_models

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
    from pathlib import Path
    from typing import Self

    from airflow.providers.common.compat.sdk import Connection
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_browserbase.hooks._context import Operation
    from airflow_provider_browserbase.models import (
        Context,
        CreatedContext,
        CreatedSession,
        Extension,
        FetchResult,
        Project,
        ProjectUsage,
        RecordingDownload,
        SearchResults,
        Session,
        SessionDetails,
        SessionLiveURLs,
        SessionLog,
        SessionRecordingEvent,
        SessionReplays,
        UploadResult,
    )


__all__ = ["CONN_FIELDS", "UI_FIELD_BEHAVIOUR", "BrowserbaseHook"]

T = TypeVar("T")

USER_AGENT = f"airflow-provider-browserbase/{__version__}"


async def _amask(secret: str) -> None:
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # Airflow < 3.3.2: the sync call is the only one
        mask_secret(secret)
    else:
        await amask_secret(secret)


def _plain_http_without_proxies(base_url: str) -> bool:
    if not base_url.startswith("http://"):
        return False
    import urllib.request  # httpx reads the same variables (``trust_env``); only ``no_proxy`` is harmless

    return not any(scheme != "no" for scheme in urllib.request.getproxies())


def _unused_tls_context() -> ssl.SSLContext:
    """
    The TLS context of a client whose API is plain ``http://`` (``browserbase-local``) and no proxy applies.

    httpx builds its default context when a client is made, loading the system's CA bundle: ~40 ms of CPU
    per client, in every task (``python -m benchmarks --only throughput`` profiles it), for TLS that such
    a client never uses. This context verifies as strictly as the default (certificate and host name
    required) but trusts no authority, so if anything ever led the client to an ``https://`` URL the
    handshake would fail rather than trust it. With a proxy from the environment the default is kept (the
    proxy itself may be ``https://``).
    """
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class BrowserbaseHook(BaseHook):
    """
    Talk to the Browserbase API: sessions, recordings, contexts, extensions, projects, downloads, uploads,
    fetch, search.

    Reads and session releases are retried on transport errors, 408, 409, 429 and 5xx, honouring the
    server's ``Retry-After``; a session create is never blindly repeated (see :meth:`create_session`).

    :param browserbase_conn_id: the ``browserbase`` connection: API key in the password, optional base
        URL in the host, optional ``project_id`` extra.
    :param api_timeout: seconds to wait for an answer (read, write and pool timeout).
    :param connect_timeout: seconds to wait for a connection.
    :param max_retries: retries after the first attempt of a retryable request.
    :param max_retry_wait: longest ``Retry-After`` honoured; longer hints fall back to backoff.
    :param rate_limit_wait: total seconds a create may wait on HTTP 429 before raising.
    :param transport: an ``httpx`` transport for the sync client (tests use ``httpx.MockTransport``).
    :param async_transport: an ``httpx`` transport for the async client.
    """

    conn_name_attr = "browserbase_conn_id"
    default_conn_name = "browserbase_default"
    conn_type = "browserbase"
    hook_name = "Browserbase"

    def __init__(
        self,
        browserbase_conn_id: str = default_conn_name,
        *,
        api_timeout: float = 60.0,
        connect_timeout: float = 5.0,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        rate_limit_wait: float = 120.0,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__()
        build_models()  # before any thread of this process validates an answer
        self.browserbase_conn_id = browserbase_conn_id
        self.api_timeout = api_timeout
        self.connect_timeout = connect_timeout
        self.max_retries = max(0, max_retries)
        self.max_retry_wait = max_retry_wait
        self.rate_limit_wait = rate_limit_wait
        self._transport = transport
        self._async_transport = async_transport
        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None
        # Injectable so tests can check waits without waiting.
        self._sleep: Callable[[float], None] = time.sleep
        self._asleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._clock: Callable[[], float] = time.monotonic
        self._random: Callable[[], float] = random.random
        # Session id -> create nonce, for sessions created by a re-sent create after an ambiguous failure:
        # the first create may still produce a session under the same nonce, which ending this one sweeps.
        self._ambiguous_nonces: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(browserbase_conn_id={self.browserbase_conn_id!r})"

    # -----------------------------------------------------------------------------------------------------
    # Connection form (Airflow 3.0/3.1; 3.2+ reads CONN_FIELDS / UI_FIELD_BEHAVIOUR from provider info)
    # -----------------------------------------------------------------------------------------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return ui_field_behaviour_for_python_api()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        # Airflow 3.0/3.1 replace these with stand-ins while building the form metadata.
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget  # type: ignore[import-not-found,unused-ignore]
        from flask_babel import lazy_gettext  # type: ignore[import-not-found,unused-ignore]
        from wtforms import StringField  # type: ignore[import-untyped,import-not-found,unused-ignore]
        from wtforms.validators import Optional  # type: ignore[import-untyped,import-not-found,unused-ignore]

        return {
            name: StringField(
                lazy_gettext(spec["label"]),
                widget=BS3TextFieldWidget(),
                validators=[Optional()],
                description=spec.get("description", ""),
            )
            for name, spec in CONN_FIELDS.items()
        }

    # -----------------------------------------------------------------------------------------------------
    # Connection, clients, call context
    # -----------------------------------------------------------------------------------------------------

    def _settings_from(self, conn: Connection, extra: Mapping[str, Any]) -> ConnectionSettings:
        api_key = (conn.password or "").strip()
        if not api_key:
            raise BrowserbaseError(
                f"Browserbase connection {self.browserbase_conn_id!r} has no API key: "
                "set it in the connection's password field ('API Key')"
            )
        mask_secret(api_key)
        try:
            base_url = resolve_base_url(conn.host, conn.port)
        except CredentialsInHostError as err:
            raise BrowserbaseError(f"Browserbase connection {self.browserbase_conn_id!r}: {err}") from None
        return ConnectionSettings(
            conn_id=self.browserbase_conn_id,
            base_url=base_url,
            api_key=api_key,
            project_id=project_id_from_extra(dict(extra)),
        )

    @cached_property
    def conn_settings(self) -> ConnectionSettings:
        """The connection's base URL, API key and project, read once (sync code only)."""
        conn = self.get_connection(self.browserbase_conn_id)
        return self._settings_from(conn, conn.extra_dejson)

    async def aget_conn_settings(self) -> ConnectionSettings:
        """:attr:`conn_settings` for async code: never calls the sync ``get_connection`` on the loop."""
        if "conn_settings" not in self.__dict__:
            from airflow.providers.common.compat.connection import (
                get_async_connection,
                get_async_extra_dejson,
            )

            conn = await get_async_connection(self.browserbase_conn_id, hook=self)
            extra = await get_async_extra_dejson(conn)
            self.__dict__["conn_settings"] = self._settings_from(conn, extra)
        return cast("ConnectionSettings", self.__dict__["conn_settings"])

    @property
    def base_url(self) -> str:
        return self.conn_settings.base_url

    @property
    def project_id(self) -> str | None:
        return self.conn_settings.project_id

    def _client_options(self, settings: ConnectionSettings) -> dict[str, Any]:
        options: dict[str, Any] = {
            "base_url": settings.base_url,
            "headers": {
                "X-BB-API-Key": settings.api_key,
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            "timeout": httpx.Timeout(self.api_timeout, connect=self.connect_timeout),
        }
        if _plain_http_without_proxies(settings.base_url):
            options["verify"] = _unused_tls_context()
        return options

    def get_conn(self) -> httpx.Client:
        """The hook's pooled sync client, created on first use."""
        if self._client is None:
            self._client = httpx.Client(transport=self._transport, **self._client_options(self.conn_settings))
        return self._client

    async def aget_conn(self) -> httpx.AsyncClient:
        """The hook's pooled async client for the running event loop, created on first use."""
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient_loop is not loop:
            # A client is bound to the loop it first ran on; a new loop (a new asyncio.run) needs its own.
            settings = await self.aget_conn_settings()
            self._aclient = httpx.AsyncClient(
                transport=self._async_transport, **self._client_options(settings)
            )
            self._aclient_loop = loop
        return self._aclient

    def close(self) -> None:
        """Close the sync client (the async one is closed by :meth:`aclose`)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close both clients."""
        self.close()
        if self._aclient is not None:
            client, self._aclient, self._aclient_loop = self._aclient, None, None
            await client.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _context(self, settings: ConnectionSettings) -> CallContext:
        return CallContext(
            settings=settings,
            max_retries=self.max_retries,
            max_retry_wait=self.max_retry_wait,
            rate_limit_wait=self.rate_limit_wait,
            clock=self._clock,
            random=self._random,
            log=self.log,
            ambiguous_nonces=self._ambiguous_nonces,
        )

    def _run(self, operation: Operation[T]) -> T:
        """Carry out ``operation`` synchronously, the connection read with ``get_connection`` first."""
        flow = operation(self._context(self.conn_settings))
        return run_sync(flow, self.get_conn, self._sleep, mask_secret)

    async def _arun(self, operation: Operation[T]) -> T:
        """Carry out ``operation`` on the event loop, the connection read with ``aget_connection`` first."""
        flow = operation(self._context(await self.aget_conn_settings()))
        return await run_async(flow, self.aget_conn, self._asleep, _amask)

    # -----------------------------------------------------------------------------------------------------
    # Sessions
    # -----------------------------------------------------------------------------------------------------

    def create_session(self, **settings: Any) -> CreatedSession:
        """
        Create a session; ``settings`` are :class:`SessionCreateParams` fields, snake_case or camelCase.

        Known settings are validated before any request; unknown ones are sent unchanged, named in one
        warning. The create carries a nonce in ``userMetadata.airflow.nonce``; after an ambiguous failure
        (read timeout, 5xx, dropped connection) the hook looks the session up by that nonce and returns it,
        and sends a new create only when two lookups a retry pause apart find none. Should the first
        create still produce a session after that, the duplicate is ended as soon as a list shows it:
        right after the new create, and again by :meth:`end_session` for the returned session (same hook
        instance). HTTP 429 is waited out as ``Retry-After`` says, up to ``rate_limit_wait`` seconds in
        total, then raised as :class:`BrowserbaseRateLimitError`. ``project_id`` defaults to the
        connection's.
        """
        return self._run(sessions.create_session(settings))

    async def acreate_session(self, **settings: Any) -> CreatedSession:
        return await self._arun(sessions.create_session(settings))

    def get_session(self, session_id: str) -> SessionDetails:
        """Retrieve a session (with its connect URL and signing key while it lives)."""
        return self._run(sessions.get_session(session_id))

    async def aget_session(self, session_id: str) -> SessionDetails:
        return await self._arun(sessions.get_session(session_id))

    def get_session_status(self, session_id: str) -> Session:
        """
        Retrieve a session without its connect URL and signing key, for status polls.

        Unlike :meth:`get_session`, nothing secret is kept, so nothing is registered with Airflow's secrets
        masker: a process polling many sessions (the triggerer) does not grow the masker per session.
        """
        return self._run(sessions.get_session_status(session_id))

    async def aget_session_status(self, session_id: str) -> Session:
        return await self._arun(sessions.get_session_status(session_id))

    def list_sessions(
        self, status: str | None = None, metadata: Mapping[str, Any] | None = None, *, q: str | None = None
    ) -> list[Session]:
        """
        List the sessions the API key can see (account-wide), filtered by status and user metadata.

        :param metadata: e.g. ``{"airflow": {"dag_id": "etl"}}``: sessions whose metadata holds every leaf.
        :param q: a raw metadata query, instead of ``metadata``.
        """
        return self._run(sessions.list_sessions(status, metadata, q))

    async def alist_sessions(
        self, status: str | None = None, metadata: Mapping[str, Any] | None = None, *, q: str | None = None
    ) -> list[Session]:
        return await self._arun(sessions.list_sessions(status, metadata, q))

    def end_session(
        self, session_id: str, wait: bool = False, wait_timeout: float = 60.0, poll_interval: float = 1.0
    ) -> Session | None:
        """
        Release a session (``POST /v1/sessions/{id}`` with ``REQUEST_RELEASE``); safe to repeat.

        A session that no longer exists (404) gives ``None``; an ended one is returned as is. With ``wait``,
        poll until the session is terminal, raising :class:`BrowserbaseSessionError` after ``wait_timeout``.
        For a session this hook created by re-sending a create, any other live session carrying the same
        create nonce is ended too (best effort, warned about, never raised).
        """
        return self._run(sessions.end_session(session_id, wait, wait_timeout, poll_interval))

    async def aend_session(
        self, session_id: str, wait: bool = False, wait_timeout: float = 60.0, poll_interval: float = 1.0
    ) -> Session | None:
        return await self._arun(sessions.end_session(session_id, wait, wait_timeout, poll_interval))

    def get_live_urls(self, session_id: str, expires_in: int | None = None) -> SessionLiveURLs:
        """Live-view (debugger) URLs of a running session. They grant control: they are masked in logs."""
        return self._run(sessions.get_live_urls(session_id, expires_in))

    async def aget_live_urls(self, session_id: str, expires_in: int | None = None) -> SessionLiveURLs:
        return await self._arun(sessions.get_live_urls(session_id, expires_in))

    def session_url(self, session_id: str) -> str:
        """A page for a person: the Browserbase dashboard, or the local server's live view."""
        return self._run(sessions.session_url(session_id))

    async def asession_url(self, session_id: str) -> str:
        return await self._arun(sessions.session_url(session_id))

    @contextlib.contextmanager
    def session(self, **settings: Any) -> Iterator[CreatedSession]:
        """Create a session, yield it, and end it on every exit (best effort, never masking an error)."""
        created = self.create_session(**settings)
        try:
            yield created
        finally:
            try:
                self.end_session(created.id)
            except Exception:
                self.log.warning("Could not end Browserbase session %s", created.id, exc_info=True)

    @contextlib.asynccontextmanager
    async def asession(self, **settings: Any) -> AsyncIterator[CreatedSession]:
        created = await self.acreate_session(**settings)
        try:
            yield created
        finally:
            try:
                await self.aend_session(created.id)
            except Exception:
                self.log.warning("Could not end Browserbase session %s", created.id, exc_info=True)

    # -----------------------------------------------------------------------------------------------------
    # A session's logs, recording, downloads and uploads
    # -----------------------------------------------------------------------------------------------------

    def get_session_logs(self, session_id: str) -> list[SessionLog]:
        """The CDP request/response log of a session."""
        return self._run(session_logs.get_session_logs(session_id))

    async def aget_session_logs(self, session_id: str) -> list[SessionLog]:
        return await self._arun(session_logs.get_session_logs(session_id))

    def get_session_recording(self, session_id: str) -> list[SessionRecordingEvent]:
        """The rrweb recording events of a session's first tab (deprecated by Browserbase)."""
        return self._run(session_logs.get_session_recording(session_id))

    async def aget_session_recording(self, session_id: str) -> list[SessionRecordingEvent]:
        return await self._arun(session_logs.get_session_recording(session_id))

    def get_downloads_zip(self, session_id: str) -> bytes:
        """The session's downloaded files as one zip (an empty archive is 22 bytes)."""
        return self._run(session_downloads.get_downloads_zip(session_id))

    async def aget_downloads_zip(self, session_id: str) -> bytes:
        return await self._arun(session_downloads.get_downloads_zip(session_id))

    def wait_for_downloads(
        self, session_id: str, timeout: float = 60, poll_interval: float = 2, min_files: int = 1
    ) -> bytes:
        """The downloads zip once it holds ``min_files`` files; polls while it has fewer (sync lags)."""
        return self._run(session_downloads.wait_for_downloads(session_id, timeout, poll_interval, min_files))

    async def await_downloads(
        self, session_id: str, timeout: float = 60, poll_interval: float = 2, min_files: int = 1
    ) -> bytes:
        """The async twin of :meth:`wait_for_downloads`."""
        return await self._arun(
            session_downloads.wait_for_downloads(session_id, timeout, poll_interval, min_files)
        )

    async def await_for_downloads(
        self, session_id: str, timeout: float = 60, poll_interval: float = 2, min_files: int = 1
    ) -> bytes:
        """Deprecated name of :meth:`await_downloads` (``a`` + ``wait_for_downloads`` read as "await for")."""
        from airflow.exceptions import AirflowProviderDeprecationWarning

        warnings.warn(
            "BrowserbaseHook.await_for_downloads is deprecated; use await_downloads",
            AirflowProviderDeprecationWarning,
            stacklevel=2,
        )
        return await self.await_downloads(session_id, timeout, poll_interval, min_files)

    def download_files(
        self,
        session_id: str,
        destination: str | Path | ObjectStoragePath,
        timeout: float = 60,
        *,
        poll_interval: float = 2,
        min_files: int = 1,
        max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
        max_files: int = DEFAULT_MAX_FILES,
    ) -> list[Any]:
        """
        Wait for the session's downloads and extract them into ``destination`` (a folder or any
        ``ObjectStoragePath``), refusing unsafe names, symbolic links and archives that unpack to more
        than ``max_total_bytes`` or hold more than ``max_files`` files. Returns the written paths.
        """
        return self._run(
            session_downloads.download_files(
                session_id, destination, timeout, poll_interval, min_files, max_total_bytes, max_files
            )
        )

    async def adownload_files(
        self,
        session_id: str,
        destination: str | Path | ObjectStoragePath,
        timeout: float = 60,
        *,
        poll_interval: float = 2,
        min_files: int = 1,
        max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
        max_files: int = DEFAULT_MAX_FILES,
    ) -> list[Any]:
        return await self._arun(
            session_downloads.download_files(
                session_id, destination, timeout, poll_interval, min_files, max_total_bytes, max_files
            )
        )

    def upload_file(
        self, session_id: str, file: str | Path | bytes, filename: str | None = None
    ) -> UploadResult:
        """Upload a file to the session's browser host (multipart field ``file``)."""
        return self._run(session_uploads.upload_file(session_id, file, filename))

    async def aupload_file(
        self, session_id: str, file: str | Path | bytes, filename: str | None = None
    ) -> UploadResult:
        return await self._arun(session_uploads.upload_file(session_id, file, filename))

    # -----------------------------------------------------------------------------------------------------
    # Recordings (video, one MP4 per page) and replays
    # -----------------------------------------------------------------------------------------------------

    def request_recording(self, session_id: str) -> list[RecordingDownload]:
        """Ask Browserbase to assemble one MP4 per recorded page; every page answers ``PENDING``."""
        return self._run(recordings.request_recording(session_id))

    async def arequest_recording(self, session_id: str) -> list[RecordingDownload]:
        return await self._arun(recordings.request_recording(session_id))

    def list_recording_downloads(self, session_id: str) -> list[RecordingDownload]:
        """Each recorded page's MP4 status; a ``COMPLETED`` one carries a short-lived ``download_url``."""
        return self._run(recordings.list_recording_downloads(session_id))

    async def alist_recording_downloads(self, session_id: str) -> list[RecordingDownload]:
        return await self._arun(recordings.list_recording_downloads(session_id))

    def download_recording(
        self,
        session_id: str,
        destination: str | Path | ObjectStoragePath,
        *,
        timeout: float = recordings.DEFAULT_RECORDING_TIMEOUT,
        poll_interval: float = 2.0,
    ) -> list[Any]:
        """
        Save the session's video: request the MP4s, wait until each page's is ready, stream them to files.

        :param destination: a local folder (``str`` or ``Path``) or any ``ObjectStoragePath``, created if
            missing; each page is written as ``<session id>-page-<page id>.mp4``.
        :param timeout: seconds to wait for Browserbase to assemble the videos.
        :param poll_interval: seconds between two status checks.
        :return: the written paths (``Path`` for a local folder, else ``ObjectStoragePath``), in page order;
            empty for a session recorded with ``recordSession: false``.
        """
        return self._run(recordings.download_recording(session_id, destination, timeout, poll_interval))

    async def adownload_recording(
        self,
        session_id: str,
        destination: str | Path | ObjectStoragePath,
        *,
        timeout: float = recordings.DEFAULT_RECORDING_TIMEOUT,
        poll_interval: float = 2.0,
    ) -> list[Any]:
        return await self._arun(
            recordings.download_recording(session_id, destination, timeout, poll_interval)
        )

    def get_replays(self, session_id: str) -> SessionReplays:
        """The session's recorded pages (tabs): start and end times, and each page's HLS playlist URL."""
        return self._run(recordings.get_replays(session_id))

    async def aget_replays(self, session_id: str) -> SessionReplays:
        return await self._arun(recordings.get_replays(session_id))

    def get_replay_playlist(self, session_id: str, page_id: str) -> str:
        """A recorded page's HLS playlist (``.m3u8`` text); its segment URLs are short-lived and signed."""
        return self._run(recordings.get_replay_playlist(session_id, page_id))

    async def aget_replay_playlist(self, session_id: str, page_id: str) -> str:
        return await self._arun(recordings.get_replay_playlist(session_id, page_id))

    # -----------------------------------------------------------------------------------------------------
    # Fetch and Search
    # -----------------------------------------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        *,
        format: str = "raw",
        schema: dict[str, Any] | None = None,
        allow_redirects: bool | None = None,
        allow_insecure_ssl: bool | None = None,
        proxies: bool | None = None,
        context_id: str | None = None,
    ) -> FetchResult:
        """
        Fetch one page without a browser session (``POST /v1/fetch``).

        :param url: an ``http`` or ``https`` URL.
        :param format: ``raw`` (the body as is), ``markdown``, or ``json`` (extracted by ``schema``).
        :param schema: a JSON Schema; required with ``format="json"``, refused otherwise.
        :param allow_redirects: follow redirects; ``None`` leaves Browserbase's default.
        :param allow_insecure_ssl: skip TLS certificate checks.
        :param proxies: fetch through Browserbase's proxies.
        :param context_id: send the cookies saved in this context.
        :return: the page: ``status_code`` is the page's own status (a 404 page is a successful fetch).
        """
        return self._run(
            fetch_api.fetch(
                url,
                format=format,
                schema=schema,
                allow_redirects=allow_redirects,
                allow_insecure_ssl=allow_insecure_ssl,
                proxies=proxies,
                context_id=context_id,
            )
        )

    async def afetch(
        self,
        url: str,
        *,
        format: str = "raw",
        schema: dict[str, Any] | None = None,
        allow_redirects: bool | None = None,
        allow_insecure_ssl: bool | None = None,
        proxies: bool | None = None,
        context_id: str | None = None,
    ) -> FetchResult:
        return await self._arun(
            fetch_api.fetch(
                url,
                format=format,
                schema=schema,
                allow_redirects=allow_redirects,
                allow_insecure_ssl=allow_insecure_ssl,
                proxies=proxies,
                context_id=context_id,
            )
        )

    def search(self, query: str, *, num_results: int = 10) -> SearchResults:
        """Search the web (``POST /v1/search``); ``num_results`` from 1 to 25, results best first."""
        return self._run(search_api.search(query, num_results=num_results))

    async def asearch(self, query: str, *, num_results: int = 10) -> SearchResults:
        return await self._arun(search_api.search(query, num_results=num_results))

    # -----------------------------------------------------------------------------------------------------
    # Contexts, extensions, projects
    # -----------------------------------------------------------------------------------------------------

    def create_context(self, name: str | None = None, project_id: str | None = None) -> CreatedContext:
        """Create a context (saved browser state); ``project_id`` defaults to the connection's."""
        return self._run(contexts.create_context(name, project_id))

    async def acreate_context(self, name: str | None = None, project_id: str | None = None) -> CreatedContext:
        return await self._arun(contexts.create_context(name, project_id))

    def get_context(self, context_id: str) -> Context:
        return self._run(contexts.get_context(context_id))

    async def aget_context(self, context_id: str) -> Context:
        return await self._arun(contexts.get_context(context_id))

    def delete_context(self, context_id: str) -> None:
        """Delete a context; a missing one raises :class:`BrowserbaseNotFoundError`."""
        self._run(contexts.delete_context(context_id))

    async def adelete_context(self, context_id: str) -> None:
        await self._arun(contexts.delete_context(context_id))

    def upload_extension(self, file: str | Path | bytes, filename: str | None = None) -> Extension:
        """Upload a Chrome extension zip; use its id as ``extension_id`` when creating sessions."""
        return self._run(extensions.upload_extension(file, filename))

    async def aupload_extension(self, file: str | Path | bytes, filename: str | None = None) -> Extension:
        return await self._arun(extensions.upload_extension(file, filename))

    def get_extension(self, extension_id: str) -> Extension:
        return self._run(extensions.get_extension(extension_id))

    async def aget_extension(self, extension_id: str) -> Extension:
        return await self._arun(extensions.get_extension(extension_id))

    def delete_extension(self, extension_id: str) -> None:
        self._run(extensions.delete_extension(extension_id))

    async def adelete_extension(self, extension_id: str) -> None:
        await self._arun(extensions.delete_extension(extension_id))

    def list_projects(self) -> list[Project]:
        return self._run(projects.list_projects())

    async def alist_projects(self) -> list[Project]:
        return await self._arun(projects.list_projects())

    def get_project(self, project_id: str | None = None) -> Project:
        """A project: the given one, else the connection's, else the first the key sees."""
        return self._run(projects.get_project(project_id))

    async def aget_project(self, project_id: str | None = None) -> Project:
        return await self._arun(projects.get_project(project_id))

    def get_project_usage(self, project_id: str | None = None) -> ProjectUsage:
        """Browser minutes and proxy bytes used by a project (chosen as in :meth:`get_project`)."""
        return self._run(projects.get_project_usage(project_id))

    async def aget_project_usage(self, project_id: str | None = None) -> ProjectUsage:
        return await self._arun(projects.get_project_usage(project_id))

    # -----------------------------------------------------------------------------------------------------
    # Connection test
    # -----------------------------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        settings = self.__dict__.get("conn_settings")
        if isinstance(settings, ConnectionSettings) and settings.api_key:
            text = text.replace(settings.api_key, "***")
        return text

    def test_connection(self) -> tuple[bool, str]:
        """One ``GET /v1/projects`` without retries; ``(ok, message)``, never raising."""
        try:
            found = self._run(projects.list_projects(max_retries=0))
        except Exception as err:
            return False, self._scrub(str(err) or type(err).__name__)
        return True, (
            f"Connected to the Browserbase API at {self.conn_settings.base_url} "
            f"({len(found)} project(s) visible)"
        )
