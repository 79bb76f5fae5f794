"""
The Browserbase hook: every call to the Browserbase REST API goes through here.

Each operation is written once, as a generator of steps (see ``_transport``); :meth:`BrowserbaseHook._run`
carries the steps out with a pooled ``httpx.Client`` and :meth:`BrowserbaseHook._arun` with an
``httpx.AsyncClient``, so the sync methods and their ``a``-prefixed async twins share all their logic.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import httpx
from airflow.providers.common.compat.sdk import BaseHook, mask_secret
from pydantic import ValidationError

from airflow_provider_browserbase import __version__
from airflow_provider_browserbase.exceptions import (
    BrowserbaseAPIError,
    BrowserbaseError,
    BrowserbaseNotFoundError,
    BrowserbaseSessionError,
    BrowserbaseValidationError,
)
from airflow_provider_browserbase.hooks._connection import (
    ConnectionSettings,
    project_id_from_extra,
    resolve_base_url,
    session_url_for,
)
from airflow_provider_browserbase.hooks._downloads import count_files, extract_files
from airflow_provider_browserbase.hooks._transport import (
    ApiCall,
    Mask,
    Outcome,
    Send,
    Sleep,
    Step,
    api_path,
    describe_outcome,
    is_ambiguous,
    is_retryable,
    json_body,
    outcome_error,
    parse_retry_after,
    retry_wait,
    should_retry_header,
)
from airflow_provider_browserbase.hooks.connection_form import (
    CONN_FIELDS,
    UI_FIELD_BEHAVIOUR,
    ui_field_behaviour_for_python_api,
)
from airflow_provider_browserbase.models import Context as BrowserbaseContext
from airflow_provider_browserbase.models import (
    ContextCreateParams,
    CreatedContext,
    CreatedSession,
    Extension,
    Project,
    ProjectUsage,
    Session,
    SessionCreateParams,
    SessionDetails,
    SessionLiveURLs,
    SessionLog,
    SessionRecordingEvent,
    SessionStatus,
    UploadResult,
    build_metadata_query,
    metadata_matches,
    validate_session_settings,
    validation_errors,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator

    from airflow.providers.common.compat.sdk import Connection

__all__ = ["CONN_FIELDS", "UI_FIELD_BEHAVIOUR", "BrowserbaseHook"]

T = TypeVar("T")

USER_AGENT = f"airflow-provider-browserbase/{__version__}"
NONCE_PATH = ("airflow", "nonce")


async def _amask(secret: str) -> None:
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # Airflow < 3.3.2: the sync call is the only one
        mask_secret(secret)
    else:
        await amask_secret(secret)


class BrowserbaseHook(BaseHook):
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
    # Connection and clients
    # -----------------------------------------------------------------------------------------------------

    def _settings_from(self, conn: Connection, extra: Mapping[str, Any]) -> ConnectionSettings:
        api_key = (conn.password or "").strip()
        if not api_key:
            raise BrowserbaseError(
                f"Browserbase connection {self.browserbase_conn_id!r} has no API key: "
                "set it in the connection's password field ('API Key')"
            )
        mask_secret(api_key)
        return ConnectionSettings(
            conn_id=self.browserbase_conn_id,
            base_url=resolve_base_url(conn.host, conn.port),
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
        return {
            "base_url": settings.base_url,
            "headers": {
                "X-BB-API-Key": settings.api_key,
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            "timeout": httpx.Timeout(self.api_timeout, connect=self.connect_timeout),
        }

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

    def __enter__(self) -> BrowserbaseHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> BrowserbaseHook:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -----------------------------------------------------------------------------------------------------
    # Drivers: carry out the steps of an operation
    # -----------------------------------------------------------------------------------------------------

    def _run(self, flow: Generator[Step, Any, T]) -> T:
        client = self.get_conn()
        result: Any = None
        while True:
            try:
                step = flow.send(result)
            except StopIteration as stop:
                return cast("T", stop.value)
            result = None
            if isinstance(step, Send):
                try:
                    result = Outcome(
                        response=client.request(
                            step.call.method, step.call.path, **step.call.request_kwargs()
                        )
                    )
                except httpx.TransportError as error:
                    result = Outcome(error=error)
            elif isinstance(step, Sleep):
                self._sleep(step.seconds)
            else:
                for secret in step.secrets:
                    mask_secret(secret)

    async def _arun(self, flow: Generator[Step, Any, T]) -> T:
        client = await self.aget_conn()
        result: Any = None
        while True:
            try:
                step = flow.send(result)
            except StopIteration as stop:
                return cast("T", stop.value)
            result = None
            if isinstance(step, Send):
                try:
                    result = Outcome(
                        response=await client.request(
                            step.call.method, step.call.path, **step.call.request_kwargs()
                        )
                    )
                except httpx.TransportError as error:
                    result = Outcome(error=error)
            elif isinstance(step, Sleep):
                await self._asleep(step.seconds)
            else:
                for secret in step.secrets:
                    await _amask(secret)

    # -----------------------------------------------------------------------------------------------------
    # Shared steps
    # -----------------------------------------------------------------------------------------------------

    def _request(self, call: ApiCall, max_retries: int | None = None) -> Generator[Step, Any, httpx.Response]:
        """Send ``call``, retrying what its retry mode allows; return the success response or raise."""
        limit = self.max_retries if max_retries is None else max_retries
        retries = 0
        while True:
            outcome: Outcome = yield Send(call)
            if outcome.ok:
                assert outcome.response is not None
                return outcome.response
            if retries < limit and is_retryable(call, outcome):
                yield from self._retry_pause(call, outcome, retries, limit)
                retries += 1
                continue
            raise outcome_error(call, outcome)

    def _retry_pause(
        self, call: ApiCall, outcome: Outcome, retries: int, limit: int
    ) -> Generator[Step, Any, None]:
        wait = retry_wait(outcome, retries, self.max_retry_wait, self._random)
        self.log.warning(
            "Browserbase %s got %s; retrying in %.2f s (retry %d of %d)",
            call.call,
            describe_outcome(outcome),
            wait,
            retries + 1,
            limit,
        )
        yield Sleep(wait)

    def _json(self, call: ApiCall, max_retries: int | None = None) -> Generator[Step, Any, Any]:
        response = yield from self._request(call, max_retries)
        return json_body(call, response)

    def _project_or_default(self, project_id: str | None) -> str | None:
        return project_id or self.conn_settings.project_id

    # -----------------------------------------------------------------------------------------------------
    # Sessions
    # -----------------------------------------------------------------------------------------------------

    @staticmethod
    def _session_secrets(session: Session) -> Mask:
        values = (getattr(session, "connect_url", None), getattr(session, "signing_key", None))
        return Mask(tuple(v for v in values if v))

    def _with_nonce(self, params: SessionCreateParams, nonce: str) -> SessionCreateParams:
        metadata = dict(params.user_metadata or {})
        tag = metadata.get(NONCE_PATH[0]) or {}
        if not isinstance(tag, Mapping):
            raise BrowserbaseValidationError(
                [("user_metadata.airflow", "must be an object: the hook records its create nonce there")],
                "session settings",
            )
        metadata[NONCE_PATH[0]] = {**tag, NONCE_PATH[1]: nonce}
        tagged = params.model_copy()
        try:
            tagged.user_metadata = metadata
        except ValidationError as exc:
            raise BrowserbaseValidationError(
                [
                    (f, f"{rule} (including the hook's 45-character nonce tag)")
                    for f, rule in validation_errors(exc)
                ],
                "session settings",
            ) from None
        return tagged

    def _create_session_flow(self, params: SessionCreateParams) -> Generator[Step, Any, CreatedSession]:
        if params.project_id is None and self.conn_settings.project_id:
            params = params.model_copy(update={"project_id": self.conn_settings.project_id})
        nonce = uuid.uuid4().hex
        params = self._with_nonce(params, nonce)
        call = ApiCall("create_session", "POST", "/v1/sessions", json=params.to_api(), retry="unsent")
        retries = 0
        rate_limited_for = 0.0
        while True:
            outcome: Outcome = yield Send(call)
            if outcome.ok:
                assert outcome.response is not None
                created = CreatedSession.model_validate(json_body(call, outcome.response))
                yield self._session_secrets(created)
                self.log.info("Created Browserbase session %s (status %s)", created.id, created.status)
                return created
            if is_ambiguous(outcome):
                found = yield from self._find_by_nonce(nonce, outcome)
                if found is not None:
                    return (yield from self._recover_created(found, outcome))
                # Nothing carries the nonce, so the server created nothing: sending again is safe.
                if retries < self.max_retries and should_retry_header(outcome) is not False:
                    yield from self._retry_pause(call, outcome, retries, self.max_retries)
                    retries += 1
                    continue
                raise outcome_error(call, outcome)
            if outcome.status == 429:
                assert outcome.response is not None
                hinted = parse_retry_after(outcome.response.headers)
                wait = (
                    hinted
                    if hinted is not None and hinted > 0
                    else retry_wait(outcome, retries, 0, self._random)
                )
                if should_retry_header(outcome) is False or rate_limited_for + wait > self.rate_limit_wait:
                    raise outcome_error(call, outcome)
                self.log.warning(
                    "Browserbase create_session hit a rate limit (HTTP 429); waiting %.2f s "
                    "(%.0f of at most %.0f s waited so far)",
                    wait,
                    rate_limited_for,
                    self.rate_limit_wait,
                )
                yield Sleep(wait)
                rate_limited_for += wait
                continue
            if retries < self.max_retries and is_retryable(call, outcome):
                yield from self._retry_pause(call, outcome, retries, self.max_retries)
                retries += 1
                continue
            raise outcome_error(call, outcome)

    def _find_by_nonce(self, nonce: str, failure: Outcome) -> Generator[Step, Any, Session | None]:
        query = build_metadata_query({NONCE_PATH[0]: {NONCE_PATH[1]: nonce}})
        self.log.warning(
            "Browserbase create_session got %s: the session may exist; looking it up by its nonce",
            describe_outcome(failure),
        )
        try:
            sessions = yield from self._list_sessions_flow(None, query, call_name="create_session lookup")
        except BrowserbaseError as err:
            raise BrowserbaseError(
                f"Browserbase create_session got {describe_outcome(failure)} and the lookup of the session "
                f"by its nonce failed too ({err}); a session tagged userMetadata.airflow.nonce={nonce!r} "
                "may exist"
            ) from None
        terms = [(NONCE_PATH, nonce)]
        matching = [s for s in sessions if metadata_matches(s.user_metadata, terms)]
        if len(matching) > 1:
            self.log.warning(
                "Browserbase create_session: %d sessions carry nonce %s; using %s",
                len(matching),
                nonce,
                matching[0].id,
            )
        return matching[0] if matching else None

    def _recover_created(self, found: Session, failure: Outcome) -> Generator[Step, Any, CreatedSession]:
        details = yield from self._get_session_flow(found.id)
        if not details.connect_url:
            raise BrowserbaseError(
                f"Browserbase session {found.id} was created (its create answer was lost: "
                f"{describe_outcome(failure)}) but retrieving it gave no connect URL; end it or use it by id"
            )
        created = CreatedSession.model_validate(details.model_dump(exclude_none=True))
        self.log.warning(
            "Browserbase create_session recovered session %s after %s instead of creating another",
            created.id,
            describe_outcome(failure),
        )
        return created

    def _get_session_flow(self, session_id: str) -> Generator[Step, Any, SessionDetails]:
        path = api_path("/v1/sessions/{}", session_id, what="session_id")
        body = yield from self._json(ApiCall("get_session", "GET", path, session_id=session_id))
        details = SessionDetails.model_validate(body)
        yield self._session_secrets(details)
        return details

    def _list_sessions_flow(
        self, status: str | None, query: str | None, call_name: str = "list_sessions"
    ) -> Generator[Step, Any, list[Session]]:
        call = ApiCall(call_name, "GET", "/v1/sessions", params={"status": status, "q": query})
        body = yield from self._json(call)
        return [Session.model_validate(item) for item in body or []]

    def _end_session_flow(
        self, session_id: str, wait: bool, wait_timeout: float, poll_interval: float
    ) -> Generator[Step, Any, Session | None]:
        path = api_path("/v1/sessions/{}", session_id, what="session_id")
        body: dict[str, Any] = {"status": "REQUEST_RELEASE"}
        if self.conn_settings.project_id:
            body["projectId"] = self.conn_settings.project_id
        call = ApiCall("end_session", "POST", path, json=body, session_id=session_id)
        session: Session
        try:
            session = Session.model_validate((yield from self._json(call)))
        except BrowserbaseNotFoundError:
            self.log.info("Browserbase session %s does not exist any more: nothing to end", session_id)
            return None
        except BrowserbaseAPIError as err:
            if err.status_code not in (400, 409, 410, 422):
                raise
            # Some servers refuse to release a session that has already ended: that is success too.
            current = yield from self._get_session_flow(session_id)
            if not current.is_terminal:
                raise
            session = current
        if session.is_terminal:
            self.log.info("Browserbase session %s has ended (status %s)", session_id, session.status)
            return session
        self.log.info("Requested the release of Browserbase session %s", session_id)
        if wait:
            session = yield from self._wait_until_ended(session_id, wait_timeout, poll_interval)
        return session

    def _wait_until_ended(
        self, session_id: str, wait_timeout: float, poll_interval: float
    ) -> Generator[Step, Any, Session]:
        deadline = self._clock() + wait_timeout
        status: str | None = None
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise BrowserbaseSessionError(
                    session_id,
                    status,
                    f"Browserbase session {session_id} was asked to end but was still {status} after "
                    f"{wait_timeout:g} s",
                )
            yield Sleep(min(poll_interval, remaining))
            session = yield from self._get_session_flow(session_id)
            status = session.status
            if session.is_terminal:
                self.log.info("Browserbase session %s has ended (status %s)", session_id, session.status)
                return session

    def _debug_flow(self, session_id: str, expires_in: int | None) -> Generator[Step, Any, SessionLiveURLs]:
        path = api_path("/v1/sessions/{}/debug", session_id, what="session_id")
        call = ApiCall("get_live_urls", "GET", path, params={"expiresIn": expires_in}, session_id=session_id)
        live = SessionLiveURLs.model_validate((yield from self._json(call)))
        urls = [live.debugger_fullscreen_url, live.debugger_url, live.ws_url]
        for page in live.pages:
            urls += [page.debugger_url, page.debugger_fullscreen_url]
        yield Mask(tuple(u for u in urls if u))
        return live

    def _list_flow(self, call: ApiCall, model: type[T]) -> Generator[Step, Any, list[T]]:
        body = yield from self._json(call)
        return [model.model_validate(item) for item in body or []]  # type: ignore[attr-defined]

    def _one_flow(self, call: ApiCall, model: type[T]) -> Generator[Step, Any, T]:
        body = yield from self._json(call)
        return cast("T", model.model_validate(body))  # type: ignore[attr-defined]

    def _none_flow(self, call: ApiCall) -> Generator[Step, Any, None]:
        yield from self._request(call)

    def _zip_call(self, session_id: str) -> ApiCall:
        path = api_path("/v1/sessions/{}/downloads", session_id, what="session_id")
        return ApiCall("get_downloads", "GET", path, accept="application/zip", session_id=session_id)

    def _zip_flow(self, session_id: str) -> Generator[Step, Any, bytes]:
        response = yield from self._request(self._zip_call(session_id))
        return response.content

    def _wait_for_downloads_flow(
        self, session_id: str, timeout: float, poll_interval: float, min_files: int
    ) -> Generator[Step, Any, bytes]:
        deadline = self._clock() + timeout
        while True:
            data = yield from self._zip_flow(session_id)
            found = count_files(data)
            if found >= min_files:
                return data
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise BrowserbaseError(
                    f"Browserbase session {session_id} had {found} downloaded file(s) after {timeout:g} s; "
                    f"expected at least {min_files} (downloads sync after the browser saves them)"
                )
            self.log.info(
                "Browserbase session %s has %d downloaded file(s) so far; checking again in %.1f s",
                session_id,
                found,
                min(poll_interval, remaining),
            )
            yield Sleep(min(poll_interval, remaining))

    def _project_flow(self, project_id: str | None, what: str) -> Generator[Step, Any, str]:
        chosen = self._project_or_default(project_id)
        if chosen:
            return chosen
        projects = yield from self._list_flow(ApiCall(what, "GET", "/v1/projects"), Project)
        if not projects:
            raise BrowserbaseError(f"Browserbase {what}: the API key sees no project")
        return projects[0].id

    def _get_project_flow(self, project_id: str | None) -> Generator[Step, Any, Project]:
        chosen = yield from self._project_flow(project_id, "get_project")
        call = ApiCall("get_project", "GET", api_path("/v1/projects/{}", chosen, what="project_id"))
        return (yield from self._one_flow(call, Project))

    def _usage_flow(self, project_id: str | None) -> Generator[Step, Any, ProjectUsage]:
        chosen = yield from self._project_flow(project_id, "get_project_usage")
        path = api_path("/v1/projects/{}/usage", chosen, what="project_id")
        return (yield from self._one_flow(ApiCall("get_project_usage", "GET", path), ProjectUsage))

    def _create_context_flow(self, name: str | None, project_id: str | None) -> Generator[Step, Any, Any]:
        try:
            params = ContextCreateParams(name=name, project_id=self._project_or_default(project_id))
        except ValidationError as exc:
            raise BrowserbaseValidationError(validation_errors(exc), "context settings") from None
        # No idempotency key exists for contexts: repeat only what provably did not reach the server.
        call = ApiCall("create_context", "POST", "/v1/contexts", json=params.to_api(), retry="unsent")
        return (yield from self._one_flow(call, CreatedContext))

    # -----------------------------------------------------------------------------------------------------
    # Request builders that validate their input before anything is sent
    # -----------------------------------------------------------------------------------------------------

    @staticmethod
    def _list_query(status: str | None, metadata: Mapping[str, Any] | None, q: str | None) -> str | None:
        if status is not None and status not in SessionStatus.KNOWN:
            raise BrowserbaseValidationError(
                [("status", f"must be one of {', '.join(sorted(SessionStatus.KNOWN))}")], "session filter"
            )
        if metadata is not None and q is not None:
            raise BrowserbaseValidationError([("q", "give either metadata or q, not both")], "session filter")
        return build_metadata_query(metadata) if metadata is not None else q

    @staticmethod
    def _upload_part(file: str | Path | bytes, filename: str | None, content_type: str) -> dict[str, Any]:
        if isinstance(file, (bytes, bytearray)):
            if not filename:
                raise BrowserbaseValidationError([("filename", "is required when uploading bytes")], "upload")
            content = bytes(file)
        else:
            path = Path(file)
            content = path.read_bytes()
            filename = filename or path.name
        return {"file": (filename, content, content_type)}

    def _extension_call(self, part: dict[str, Any]) -> ApiCall:
        return ApiCall("upload_extension", "POST", "/v1/extensions", files=part, retry="unsent")

    # -----------------------------------------------------------------------------------------------------
    # Public API: sessions
    # -----------------------------------------------------------------------------------------------------

    def create_session(self, **settings: Any) -> CreatedSession:
        """
        Create a session; ``settings`` are :class:`SessionCreateParams` fields, snake_case or camelCase.

        Settings are validated before any request. The create carries a nonce in
        ``userMetadata.airflow.nonce``; after an ambiguous failure (read timeout, 5xx, dropped connection)
        the hook looks the session up by that nonce and returns it, and sends a new create only when none
        exists, so one call yields at most one session. HTTP 429 is waited out as ``Retry-After`` says, up
        to ``rate_limit_wait`` seconds in total, then raised as :class:`BrowserbaseRateLimitError`.
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
        """A page for a person: the Browserbase dashboard, or the local server's live view."""
        return session_url_for(self.conn_settings.base_url, session_id)

    async def asession_url(self, session_id: str) -> str:
        return session_url_for((await self.aget_conn_settings()).base_url, session_id)

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
    def _context_call(call: str, method: str, context_id: str) -> ApiCall:
        path = api_path("/v1/contexts/{}", context_id, what="context_id")
        return ApiCall(call, method, path, accept="*/*" if method == "DELETE" else "application/json")

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

    @staticmethod
    def _extension_id_call(call: str, method: str, extension_id: str) -> ApiCall:
        path = api_path("/v1/extensions/{}", extension_id, what="extension_id")
        return ApiCall(call, method, path, accept="*/*" if method == "DELETE" else "application/json")

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
