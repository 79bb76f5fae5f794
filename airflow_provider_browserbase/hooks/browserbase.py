"""
The Browserbase hook: every call to the Browserbase REST API goes through here.

Every method has an ``a``-prefixed async twin sharing all its logic: operations are step generators
(``_flows``) that a sync and an async driver (``_base``) carry out over the rules in ``_transport``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_browserbase.exceptions import BrowserbaseAPIError
from airflow_provider_browserbase.hooks._connection import (
    ConnectionSettings,
    is_browserbase_cloud,
    session_url_for,
)
from airflow_provider_browserbase.hooks._downloads import extract_files
from airflow_provider_browserbase.hooks._flows import BrowserbaseFlows
from airflow_provider_browserbase.hooks._transport import (
    ApiCall,
    Step,
    api_path,
)
from airflow_provider_browserbase.hooks.connection_form import (
    CONN_FIELDS,
    UI_FIELD_BEHAVIOUR,
    ui_field_behaviour_for_python_api,
)
from airflow_provider_browserbase.models import Context as BrowserbaseContext
from airflow_provider_browserbase.models import (
    CreatedContext,
    CreatedSession,
    Extension,
    Project,
    ProjectUsage,
    Session,
    SessionDetails,
    SessionLiveURLs,
    SessionLog,
    SessionRecordingEvent,
    UploadResult,
    validate_session_settings,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Generator, Iterator, Mapping
    from pathlib import Path


__all__ = ["CONN_FIELDS", "UI_FIELD_BEHAVIOUR", "BrowserbaseHook"]

T = TypeVar("T")


class BrowserbaseHook(BrowserbaseFlows):
    """
    Talk to the Browserbase API: sessions, contexts, extensions, projects, downloads and uploads.

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
    # Public API: sessions
    # -----------------------------------------------------------------------------------------------------

    def create_session(self, **settings: Any) -> CreatedSession:
        """
        Create a session; ``settings`` are :class:`SessionCreateParams` fields, snake_case or camelCase.

        Settings are validated before any request. The create carries a nonce in
        ``userMetadata.airflow.nonce``; after an ambiguous failure (read timeout, 5xx, dropped connection)
        the hook looks the session up by that nonce and returns it, and sends a new create only when two
        lookups a retry pause apart find none. Should the first create still produce a session after that,
        the duplicate is ended as soon as a list shows it: right after the new create, and again by
        :meth:`end_session` for the returned session (same hook instance). HTTP 429 is waited out as
        ``Retry-After`` says, up to ``rate_limit_wait`` seconds in total, then raised as
        :class:`BrowserbaseRateLimitError`.
        ``project_id`` defaults to the connection's.
        """
        params = validate_session_settings(settings)
        return self._run(self._create_session_flow(params))

    async def acreate_session(self, **settings: Any) -> CreatedSession:
        params = validate_session_settings(settings)
        await self.aget_conn_settings()
        return await self._arun(self._create_session_flow(params))

    def get_session(self, session_id: str) -> SessionDetails:
        """Retrieve a session (with its connect URL and signing key while it lives)."""
        api_path("{}", session_id, what="session_id")
        return self._run(self._get_session_flow(session_id))

    async def aget_session(self, session_id: str) -> SessionDetails:
        api_path("{}", session_id, what="session_id")
        return await self._arun(self._get_session_flow(session_id))

    def get_session_status(self, session_id: str) -> Session:
        """
        Retrieve a session without its connect URL and signing key, for status polls.

        Unlike :meth:`get_session`, nothing secret is kept, so nothing is registered with Airflow's secrets
        masker: a process polling many sessions (the triggerer) does not grow the masker per session.
        """
        api_path("{}", session_id, what="session_id")
        return self._run(self._session_status_flow(session_id))

    async def aget_session_status(self, session_id: str) -> Session:
        api_path("{}", session_id, what="session_id")
        return await self._arun(self._session_status_flow(session_id))

    def list_sessions(
        self, status: str | None = None, metadata: Mapping[str, Any] | None = None, *, q: str | None = None
    ) -> list[Session]:
        """
        List the sessions the API key can see (account-wide), filtered by status and user metadata.

        :param metadata: e.g. ``{"airflow": {"dag_id": "etl"}}``: sessions whose metadata holds every leaf.
        :param q: a raw metadata query, instead of ``metadata``.
        """
        query = self._list_query(status, metadata, q)
        return self._run(self._list_sessions_flow(status, query))

    async def alist_sessions(
        self, status: str | None = None, metadata: Mapping[str, Any] | None = None, *, q: str | None = None
    ) -> list[Session]:
        query = self._list_query(status, metadata, q)
        return await self._arun(self._list_sessions_flow(status, query))

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
        api_path("{}", session_id, what="session_id")
        return self._run(self._end_session_flow(session_id, wait, wait_timeout, poll_interval))

    async def aend_session(
        self, session_id: str, wait: bool = False, wait_timeout: float = 60.0, poll_interval: float = 1.0
    ) -> Session | None:
        api_path("{}", session_id, what="session_id")
        return await self._arun(self._end_session_flow(session_id, wait, wait_timeout, poll_interval))

    def get_live_urls(self, session_id: str, expires_in: int | None = None) -> SessionLiveURLs:
        """Live-view (debugger) URLs of a running session. They grant control: they are masked in logs."""
        api_path("{}", session_id, what="session_id")
        return self._run(self._debug_flow(session_id, expires_in))

    async def aget_live_urls(self, session_id: str, expires_in: int | None = None) -> SessionLiveURLs:
        api_path("{}", session_id, what="session_id")
        return await self._arun(self._debug_flow(session_id, expires_in))

    def _logs_call(self, session_id: str) -> ApiCall:
        path = api_path("/v1/sessions/{}/logs", session_id, what="session_id")
        return ApiCall("get_session_logs", "GET", path, session_id=session_id)

    def get_session_logs(self, session_id: str) -> list[SessionLog]:
        """The CDP request/response log of a session."""
        return self._run(self._list_flow(self._logs_call(session_id), SessionLog))

    async def aget_session_logs(self, session_id: str) -> list[SessionLog]:
        return await self._arun(self._list_flow(self._logs_call(session_id), SessionLog))

    def _recording_call(self, session_id: str) -> ApiCall:
        path = api_path("/v1/sessions/{}/recording", session_id, what="session_id")
        return ApiCall("get_session_recording", "GET", path, session_id=session_id)

    def get_session_recording(self, session_id: str) -> list[SessionRecordingEvent]:
        """The rrweb recording events of a session's first tab (deprecated by Browserbase)."""
        return self._run(self._list_flow(self._recording_call(session_id), SessionRecordingEvent))

    async def aget_session_recording(self, session_id: str) -> list[SessionRecordingEvent]:
        return await self._arun(self._list_flow(self._recording_call(session_id), SessionRecordingEvent))

    def get_downloads_zip(self, session_id: str) -> bytes:
        """The session's downloaded files as one zip (an empty archive is 22 bytes)."""
        self._zip_call(session_id)
        return self._run(self._zip_flow(session_id))

    async def aget_downloads_zip(self, session_id: str) -> bytes:
        self._zip_call(session_id)
        return await self._arun(self._zip_flow(session_id))

    def wait_for_downloads(
        self, session_id: str, timeout: float = 60, poll_interval: float = 2, min_files: int = 1
    ) -> bytes:
        """The downloads zip once it holds ``min_files`` files; polls while it has fewer (sync lags)."""
        self._zip_call(session_id)
        return self._run(self._wait_for_downloads_flow(session_id, timeout, poll_interval, min_files))

    async def await_for_downloads(
        self, session_id: str, timeout: float = 60, poll_interval: float = 2, min_files: int = 1
    ) -> bytes:
        self._zip_call(session_id)
        return await self._arun(self._wait_for_downloads_flow(session_id, timeout, poll_interval, min_files))

    def download_files(
        self,
        session_id: str,
        destination: str | Path,
        timeout: float = 60,
        *,
        poll_interval: float = 2,
        min_files: int = 1,
    ) -> list[Path]:
        """Wait for the session's downloads and extract them into ``destination``, refusing unsafe names."""
        data = self.wait_for_downloads(session_id, timeout, poll_interval, min_files)
        return extract_files(data, destination)

    async def adownload_files(
        self,
        session_id: str,
        destination: str | Path,
        timeout: float = 60,
        *,
        poll_interval: float = 2,
        min_files: int = 1,
    ) -> list[Path]:
        data = await self.await_for_downloads(session_id, timeout, poll_interval, min_files)
        return await asyncio.to_thread(extract_files, data, destination)

    def _upload_call(self, session_id: str, part: dict[str, Any]) -> ApiCall:
        path = api_path("/v1/sessions/{}/uploads", session_id, what="session_id")
        return ApiCall("upload_file", "POST", path, files=part, session_id=session_id)

    def upload_file(
        self, session_id: str, file: str | Path | bytes, filename: str | None = None
    ) -> UploadResult:
        """Upload a file to the session's browser host (multipart field ``file``)."""
        call = self._upload_call(session_id, self._upload_part(file, filename, "application/octet-stream"))
        return self._run(self._one_flow(call, UploadResult))

    async def aupload_file(
        self, session_id: str, file: str | Path | bytes, filename: str | None = None
    ) -> UploadResult:
        api_path("{}", session_id, what="session_id")
        part = await asyncio.to_thread(self._upload_part, file, filename, "application/octet-stream")
        return await self._arun(self._one_flow(self._upload_call(session_id, part), UploadResult))

    def session_url(self, session_id: str) -> str:
        """
        A page for a person: the Browserbase dashboard, or the server's live view with its capability.

        A server other than Browserbase's cloud (``browserbase-local``) opens a session's live view only with
        the token that ``GET /v1/sessions/<id>/debug`` hands out: the URL is that answer's ``debuggerUrl``
        (masked in logs like every live-view URL). Once the session has ended there is none, and the plain
        page, which then shows nothing without a token, is returned.
        """
        base_url = self.conn_settings.base_url
        if is_browserbase_cloud(base_url):
            return session_url_for(base_url, session_id)
        try:
            return self.get_live_urls(session_id).debugger_url or session_url_for(base_url, session_id)
        except BrowserbaseAPIError:
            return session_url_for(base_url, session_id)

    async def asession_url(self, session_id: str) -> str:
        base_url = (await self.aget_conn_settings()).base_url
        if is_browserbase_cloud(base_url):
            return session_url_for(base_url, session_id)
        try:
            live = await self.aget_live_urls(session_id)
        except BrowserbaseAPIError:
            return session_url_for(base_url, session_id)
        return live.debugger_url or session_url_for(base_url, session_id)

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
    # Public API: contexts, extensions, projects
    # -----------------------------------------------------------------------------------------------------

    def create_context(self, name: str | None = None, project_id: str | None = None) -> CreatedContext:
        """Create a context (saved browser state); ``project_id`` defaults to the connection's."""
        return self._run(self._create_context_flow(name, project_id))

    async def acreate_context(self, name: str | None = None, project_id: str | None = None) -> CreatedContext:
        await self.aget_conn_settings()
        return await self._arun(self._create_context_flow(name, project_id))

    @staticmethod
    def _by_id_call(call: str, method: str, collection: str, resource_id: str, what: str) -> ApiCall:
        """A GET or DELETE of one context or extension (a DELETE answers with no body)."""
        path = api_path(f"/v1/{collection}/{{}}", resource_id, what=what)
        return ApiCall(call, method, path, accept="*/*" if method == "DELETE" else "application/json")

    def _context_call(self, call: str, method: str, context_id: str) -> ApiCall:
        return self._by_id_call(call, method, "contexts", context_id, "context_id")

    def get_context(self, context_id: str) -> BrowserbaseContext:
        return self._run(
            self._one_flow(self._context_call("get_context", "GET", context_id), BrowserbaseContext)
        )

    async def aget_context(self, context_id: str) -> BrowserbaseContext:
        call = self._context_call("get_context", "GET", context_id)
        return await self._arun(self._one_flow(call, BrowserbaseContext))

    def delete_context(self, context_id: str) -> None:
        """Delete a context; a missing one raises :class:`BrowserbaseNotFoundError`."""
        self._run(self._none_flow(self._context_call("delete_context", "DELETE", context_id)))

    async def adelete_context(self, context_id: str) -> None:
        await self._arun(self._none_flow(self._context_call("delete_context", "DELETE", context_id)))

    def upload_extension(self, file: str | Path | bytes, filename: str | None = None) -> Extension:
        """Upload a Chrome extension zip; use its id as ``extension_id`` when creating sessions."""
        part = self._upload_part(file, filename or "extension.zip", "application/zip")
        return self._run(self._one_flow(self._extension_call(part), Extension))

    async def aupload_extension(self, file: str | Path | bytes, filename: str | None = None) -> Extension:
        part = await asyncio.to_thread(
            self._upload_part, file, filename or "extension.zip", "application/zip"
        )
        return await self._arun(self._one_flow(self._extension_call(part), Extension))

    def _extension_id_call(self, call: str, method: str, extension_id: str) -> ApiCall:
        return self._by_id_call(call, method, "extensions", extension_id, "extension_id")

    def get_extension(self, extension_id: str) -> Extension:
        return self._run(
            self._one_flow(self._extension_id_call("get_extension", "GET", extension_id), Extension)
        )

    async def aget_extension(self, extension_id: str) -> Extension:
        call = self._extension_id_call("get_extension", "GET", extension_id)
        return await self._arun(self._one_flow(call, Extension))

    def delete_extension(self, extension_id: str) -> None:
        self._run(self._none_flow(self._extension_id_call("delete_extension", "DELETE", extension_id)))

    async def adelete_extension(self, extension_id: str) -> None:
        await self._arun(self._none_flow(self._extension_id_call("delete_extension", "DELETE", extension_id)))

    def list_projects(self) -> list[Project]:
        return self._run(self._list_flow(ApiCall("list_projects", "GET", "/v1/projects"), Project))

    async def alist_projects(self) -> list[Project]:
        return await self._arun(self._list_flow(ApiCall("list_projects", "GET", "/v1/projects"), Project))

    def get_project(self, project_id: str | None = None) -> Project:
        """A project: the given one, else the connection's, else the first the key sees."""
        return self._run(self._get_project_flow(project_id))

    async def aget_project(self, project_id: str | None = None) -> Project:
        await self.aget_conn_settings()
        return await self._arun(self._get_project_flow(project_id))

    def get_project_usage(self, project_id: str | None = None) -> ProjectUsage:
        """Browser minutes and proxy bytes used by a project (chosen as in :meth:`get_project`)."""
        return self._run(self._usage_flow(project_id))

    async def aget_project_usage(self, project_id: str | None = None) -> ProjectUsage:
        await self.aget_conn_settings()
        return await self._arun(self._usage_flow(project_id))

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
            call = ApiCall("test_connection", "GET", "/v1/projects")
            projects = self._run(self._list_flow_once(call))
        except Exception as err:
            return False, self._scrub(str(err) or type(err).__name__)
        return True, (
            f"Connected to the Browserbase API at {self.conn_settings.base_url} "
            f"({len(projects)} project(s) visible)"
        )

    def _list_flow_once(self, call: ApiCall) -> Generator[Step, Any, list[Project]]:
        body = yield from self._json(call, max_retries=0)
        return [Project.model_validate(item) for item in body or []]
