"""The operations of the hook as step generators, written once for the sync and the async driver."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import ValidationError

from airflow_provider_browserbase.exceptions import (
    BrowserbaseAPIError,
    BrowserbaseError,
    BrowserbaseNotFoundError,
    BrowserbaseSessionError,
    BrowserbaseValidationError,
)
from airflow_provider_browserbase.hooks._base import BrowserbaseHookBase
from airflow_provider_browserbase.hooks._downloads import count_files
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
from airflow_provider_browserbase.models import (
    ContextCreateParams,
    CreatedContext,
    CreatedSession,
    Project,
    ProjectUsage,
    Session,
    SessionCreateParams,
    SessionDetails,
    SessionLiveURLs,
    SessionStatus,
    build_metadata_query,
    metadata_matches,
    session_secrets,
    settings_warnings,
    validation_errors,
)

if TYPE_CHECKING:
    from collections.abc import Generator


T = TypeVar("T")

NONCE_PATH = ("airflow", "nonce")
# Fields of a session answer that grant control of the browser.
SESSION_SECRET_FIELDS = frozenset({"connectUrl", "seleniumRemoteUrl", "signingKey"})


class BrowserbaseFlows(BrowserbaseHookBase):
    """Session lifecycle (create with nonce recovery, release, waits) and the other operations' steps."""

    # -----------------------------------------------------------------------------------------------------
    # Sessions
    # -----------------------------------------------------------------------------------------------------

    @staticmethod
    def _session_secrets(session: Session) -> Mask:
        return Mask(session_secrets(session))

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
        notes = settings_warnings(params)
        if notes:
            # One line per create, naming fields only (never their values: a proxy entry may hold secrets).
            self.log.warning("Browserbase session settings: %s", "; ".join(notes))
        if params.project_id is None and self.conn_settings.project_id:
            params = params.model_copy(update={"project_id": self.conn_settings.project_id})
        nonce = uuid.uuid4().hex
        params = self._with_nonce(params, nonce)
        call = ApiCall("create_session", "POST", "/v1/sessions", json=params.to_api(), retry="unsent")
        retries = 0
        rate_limited_for = 0.0
        # Set once a create was re-sent after an ambiguous failure: two sessions may carry the nonce.
        resent = False
        while True:
            outcome: Outcome = yield Send(call)
            if outcome.ok:
                assert outcome.response is not None
                created = CreatedSession.model_validate(json_body(call, outcome.response))
                yield self._session_secrets(created)
                self.log.info("Created Browserbase session %s (status %s)", created.id, created.status)
                if resent:
                    self._ambiguous_nonces[created.id] = nonce
                    yield from self._release_duplicates(created.id, nonce)
                return created
            if is_ambiguous(outcome):
                matching = yield from self._find_by_nonce(nonce, outcome)
                if not matching and retries < self.max_retries and should_retry_header(outcome) is not False:
                    yield from self._retry_pause(call, outcome, retries, self.max_retries)
                    retries += 1
                    # A slow create is listed only once it has produced its session: look once more
                    # before sending another, or both would exist.
                    matching = yield from self._find_by_nonce(nonce, outcome, again=True)
                    if not matching:
                        resent = True
                        continue
                if matching:
                    recovered = yield from self._recover_created(matching[0], outcome)
                    if resent:
                        self._ambiguous_nonces[recovered.id] = nonce
                        yield from self._release_duplicates(recovered.id, nonce, matching)
                    return recovered
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

    def _find_by_nonce(
        self, nonce: str, failure: Outcome, again: bool = False
    ) -> Generator[Step, Any, list[Session]]:
        if again:
            self.log.warning(
                "Browserbase create_session: no session carries nonce %s yet; looking once more before "
                "sending the create again",
                nonce,
            )
        else:
            self.log.warning(
                "Browserbase create_session got %s: the session may exist; looking it up by its nonce",
                describe_outcome(failure),
            )
        try:
            matching = yield from self._sessions_with_nonce(nonce, "create_session lookup")
        except BrowserbaseError as err:
            raise BrowserbaseError(
                f"Browserbase create_session got {describe_outcome(failure)} and the lookup of the session "
                f"by its nonce failed too ({err}); a session tagged userMetadata.airflow.nonce={nonce!r} "
                "may exist"
            ) from None
        if len(matching) > 1:
            self.log.warning(
                "Browserbase create_session: %d sessions carry nonce %s; using %s",
                len(matching),
                nonce,
                matching[0].id,
            )
        return matching

    def _sessions_with_nonce(self, nonce: str, call_name: str) -> Generator[Step, Any, list[Session]]:
        query = build_metadata_query({NONCE_PATH[0]: {NONCE_PATH[1]: nonce}})
        sessions = yield from self._list_sessions_flow(None, query, call_name=call_name)
        # Filtered here too: a server that ignores the query must not get other sessions ended.
        terms = [(NONCE_PATH, nonce)]
        return [s for s in sessions if metadata_matches(s.user_metadata, terms)]

    def _release_duplicates(
        self, keep_id: str, nonce: str, listed: list[Session] | None = None
    ) -> Generator[Step, Any, bool]:
        """
        End every live session but ``keep_id`` carrying ``nonce``; best effort, never raises.

        Returns whether the sessions could be listed (so the sweep need not be repeated).
        """
        try:
            if listed is None:
                listed = yield from self._sessions_with_nonce(nonce, "duplicate session sweep")
            for extra in listed:
                if extra.id == keep_id or extra.is_terminal:
                    continue
                self.log.warning(
                    "Browserbase session %s was created by a create whose answer was lost (nonce %s), "
                    "besides session %s; ending it",
                    extra.id,
                    nonce,
                    keep_id,
                )
                try:
                    yield from self._request_release(extra.id)
                except Exception as err:
                    self.log.warning("Could not end duplicate Browserbase session %s: %s", extra.id, err)
        except Exception as err:
            self.log.warning(
                "Could not look for duplicates of Browserbase session %s (nonce %s): %s", keep_id, nonce, err
            )
            return False
        return True

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

    def _session_body_flow(self, session_id: str) -> Generator[Step, Any, Any]:
        path = api_path("/v1/sessions/{}", session_id, what="session_id")
        return (yield from self._json(ApiCall("get_session", "GET", path, session_id=session_id)))

    def _get_session_flow(self, session_id: str) -> Generator[Step, Any, SessionDetails]:
        details = SessionDetails.model_validate((yield from self._session_body_flow(session_id)))
        yield self._session_secrets(details)
        return details

    def _session_status_flow(self, session_id: str) -> Generator[Step, Any, Session]:
        # Status polls drop the connect URL and signing key unread instead of masking them: each new
        # secret recompiles Airflow's masker regex, so a triggerer watching n sessions paid O(n²) CPU.
        body = yield from self._session_body_flow(session_id)
        if isinstance(body, dict):
            body = {key: value for key, value in body.items() if key not in SESSION_SECRET_FIELDS}
        return Session.model_validate(body)

    def _list_sessions_flow(
        self, status: str | None, query: str | None, call_name: str = "list_sessions"
    ) -> Generator[Step, Any, list[Session]]:
        call = ApiCall(call_name, "GET", "/v1/sessions", params={"status": status, "q": query})
        body = yield from self._json(call)
        return [Session.model_validate(item) for item in body or []]

    def _end_session_flow(
        self, session_id: str, wait: bool, wait_timeout: float, poll_interval: float
    ) -> Generator[Step, Any, Session | None]:
        nonce = self._ambiguous_nonces.get(session_id)
        try:
            session = yield from self._request_release(session_id)
        except Exception:
            if nonce is not None:
                yield from self._release_duplicates(session_id, nonce)
            raise
        if nonce is not None and (yield from self._release_duplicates(session_id, nonce)):
            self._ambiguous_nonces.pop(session_id, None)
        if wait and session is not None and not session.is_terminal:
            session = yield from self._wait_until_ended(session_id, wait_timeout, poll_interval)
        return session

    def _request_release(self, session_id: str) -> Generator[Step, Any, Session | None]:
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
        else:
            self.log.info("Requested the release of Browserbase session %s", session_id)
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
