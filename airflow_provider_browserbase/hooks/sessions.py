"""
The sessions resource: create (never blindly repeated), retrieve, list, release, live view.

Each function checks its arguments at once and returns the operation the hook's drivers carry out.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from airflow_provider_browserbase.exceptions import (
    BrowserbaseAPIError,
    BrowserbaseError,
    BrowserbaseSessionError,
    BrowserbaseValidationError,
)
from airflow_provider_browserbase.hooks._connection import is_browserbase_cloud, session_url_for
from airflow_provider_browserbase.hooks._context import read_json, retry_pause
from airflow_provider_browserbase.hooks._nonce import (
    find_by_nonce,
    list_sessions_flow,
    release_duplicates,
    request_release,
    session_call,
    with_nonce,
)
from airflow_provider_browserbase.hooks._transport import (
    ApiCall,
    Mask,
    Outcome,
    Send,
    Sleep,
    Step,
    api_path,
    check_id,
    describe_outcome,
    is_ambiguous,
    is_retryable,
    json_body,
    outcome_error,
    parse_answer,
    parse_retry_after,
    retry_wait,
    should_retry_header,
)
from airflow_provider_browserbase.models import (
    CreatedSession,
    Session,
    SessionCreateParams,
    SessionDetails,
    SessionLiveURLs,
    SessionStatus,
    build_metadata_query,
    live_url_secrets,
    session_secrets,
    settings_warnings,
    validate_session_settings,
)

if TYPE_CHECKING:
    from collections.abc import Generator, Mapping

    from airflow_provider_browserbase.hooks._context import CallContext, Operation

# Fields of a session answer that grant control of the browser.
SESSION_SECRET_FIELDS = frozenset({"connectUrl", "seleniumRemoteUrl", "signingKey"})


# ---------------------------------------------------------------------------------------------------------
# Create
# ---------------------------------------------------------------------------------------------------------


def create_session(settings: Mapping[str, Any]) -> Operation[CreatedSession]:
    """``POST /v1/sessions``; settings validated now (see :func:`validate_session_settings`)."""
    params = validate_session_settings(settings)
    return lambda ctx: _create(ctx, params)


def _create(ctx: CallContext, params: SessionCreateParams) -> Generator[Step, Any, CreatedSession]:
    notes = settings_warnings(params)
    if notes:
        # One line per create, naming fields only (never their values: a proxy entry may hold secrets).
        ctx.log.warning("Browserbase session settings: %s", "; ".join(notes))
    if params.project_id is None and ctx.settings.project_id:
        params = params.model_copy(update={"project_id": ctx.settings.project_id})
    nonce = uuid.uuid4().hex
    params = with_nonce(params, nonce)
    call = ApiCall("create_session", "POST", "/v1/sessions", json=params.to_api(), retry="unsent")
    retries = 0
    rate_limited_for = 0.0
    # Set once a create was re-sent after an ambiguous failure: two sessions may carry the nonce.
    resent = False
    while True:
        outcome: Outcome = yield Send(call)
        if outcome.ok:
            assert outcome.response is not None
            body = json_body(call, outcome.response)
            try:
                created = parse_answer(call, CreatedSession, body)
            except BrowserbaseError:
                yield from _end_unreadable(ctx, body)
                raise
            yield Mask(session_secrets(created))
            ctx.log.info("Created Browserbase session %s (status %s)", created.id, created.status)
            if resent:
                ctx.ambiguous_nonces[created.id] = nonce
                yield from release_duplicates(ctx, created.id, nonce)
            return created
        if is_ambiguous(outcome):
            matching = yield from find_by_nonce(ctx, nonce, outcome)
            if not matching and retries < ctx.max_retries and should_retry_header(outcome) is not False:
                yield from retry_pause(ctx, call, outcome, retries, ctx.max_retries)
                retries += 1
                # A slow create is listed only once it has produced its session: look once more
                # before sending another, or both would exist.
                matching = yield from find_by_nonce(ctx, nonce, outcome, again=True)
                if not matching:
                    resent = True
                    continue
            if matching:
                recovered = yield from _recover_created(ctx, matching[0], outcome)
                if resent:
                    ctx.ambiguous_nonces[recovered.id] = nonce
                    yield from release_duplicates(ctx, recovered.id, nonce, matching)
                return recovered
            raise outcome_error(call, outcome)
        if outcome.status == 429:
            assert outcome.response is not None
            hinted = parse_retry_after(outcome.response.headers)
            wait = (
                hinted if hinted is not None and hinted > 0 else retry_wait(outcome, retries, 0, ctx.random)
            )
            if should_retry_header(outcome) is False or rate_limited_for + wait > ctx.rate_limit_wait:
                raise outcome_error(call, outcome)
            ctx.log.warning(
                "Browserbase create_session hit a rate limit (HTTP 429); waiting %.2f s "
                "(%.0f of at most %.0f s waited so far)",
                wait,
                rate_limited_for,
                ctx.rate_limit_wait,
            )
            yield Sleep(wait)
            rate_limited_for += wait
            continue
        if retries < ctx.max_retries and is_retryable(call, outcome):
            yield from retry_pause(ctx, call, outcome, retries, ctx.max_retries)
            retries += 1
            continue
        raise outcome_error(call, outcome)


def _end_unreadable(ctx: CallContext, body: Any) -> Generator[Step, Any, None]:
    """End a session whose create answer cannot be used (no caller could ever end it); best effort."""
    session_id = body.get("id") if isinstance(body, dict) else None
    if not isinstance(session_id, str) or not session_id:
        return
    ctx.log.warning("Browserbase session %s was created but its answer cannot be used; ending it", session_id)
    try:
        yield from request_release(ctx, session_id)
    except Exception as err:
        ctx.log.warning("Could not end Browserbase session %s: %s", session_id, err)


def _recover_created(
    ctx: CallContext, found: Session, failure: Outcome
) -> Generator[Step, Any, CreatedSession]:
    details = yield from _get(ctx, found.id)
    if not details.connect_url or not details.signing_key:
        raise BrowserbaseError(
            f"Browserbase session {found.id} was created (its create answer was lost: "
            f"{describe_outcome(failure)}) but retrieving it gave no connect URL and signing key; end it or "
            "use it by id"
        )
    created = CreatedSession.model_validate(details.model_dump(exclude_none=True))
    ctx.log.warning(
        "Browserbase create_session recovered session %s after %s instead of creating another",
        created.id,
        describe_outcome(failure),
    )
    return created


# ---------------------------------------------------------------------------------------------------------
# Retrieve, list
# ---------------------------------------------------------------------------------------------------------


def get_session(session_id: str) -> Operation[SessionDetails]:
    """``GET /v1/sessions/{id}``, with the connect URL and signing key while the session lives."""
    check_id(session_id, "session_id")
    return lambda ctx: _get(ctx, session_id)


def _get(ctx: CallContext, session_id: str) -> Generator[Step, Any, SessionDetails]:
    call = session_call(session_id)
    details = parse_answer(call, SessionDetails, (yield from read_json(ctx, call)))
    yield Mask(session_secrets(details))
    return details


def get_session_status(session_id: str) -> Operation[Session]:
    """``GET /v1/sessions/{id}`` for status polls: the credentials are dropped unread, never masked."""
    check_id(session_id, "session_id")
    return lambda ctx: _status(ctx, session_id)


def _status(ctx: CallContext, session_id: str) -> Generator[Step, Any, Session]:
    # Status polls drop the connect URL and signing key unread instead of masking them: each new
    # secret recompiles Airflow's masker regex, so a triggerer watching n sessions paid O(n²) CPU.
    call = session_call(session_id)
    body = yield from read_json(ctx, call)
    if isinstance(body, dict):
        body = {key: value for key, value in body.items() if key not in SESSION_SECRET_FIELDS}
    return parse_answer(call, Session, body)


def list_sessions(
    status: str | None = None, metadata: Mapping[str, Any] | None = None, q: str | None = None
) -> Operation[list[Session]]:
    """``GET /v1/sessions`` filtered by status and user metadata (or a raw ``q``)."""
    if status is not None and status not in SessionStatus.KNOWN:
        raise BrowserbaseValidationError(
            [("status", f"must be one of {', '.join(sorted(SessionStatus.KNOWN))}")], "session filter"
        )
    if metadata is not None and q is not None:
        raise BrowserbaseValidationError([("q", "give either metadata or q, not both")], "session filter")
    query = build_metadata_query(metadata) if metadata is not None else q
    return lambda ctx: list_sessions_flow(ctx, status, query)


# ---------------------------------------------------------------------------------------------------------
# Release
# ---------------------------------------------------------------------------------------------------------


def end_session(
    session_id: str, wait: bool = False, wait_timeout: float = 60.0, poll_interval: float = 1.0
) -> Operation[Session | None]:
    """Release a session (idempotent); with ``wait``, poll until it has ended."""
    check_id(session_id, "session_id")
    return lambda ctx: _end(ctx, session_id, wait, wait_timeout, poll_interval)


def _end(
    ctx: CallContext, session_id: str, wait: bool, wait_timeout: float, poll_interval: float
) -> Generator[Step, Any, Session | None]:
    nonce = ctx.ambiguous_nonces.get(session_id)
    try:
        session = yield from request_release(ctx, session_id)
    except Exception:
        if nonce is not None:
            yield from release_duplicates(ctx, session_id, nonce)
        raise
    if nonce is not None and (yield from release_duplicates(ctx, session_id, nonce)):
        ctx.ambiguous_nonces.pop(session_id, None)
    # One line per event, in the order things happened: the release request and what its answer said.
    if session is None:
        ctx.log.info("Browserbase session %s does not exist any more: nothing to end", session_id)
    elif session.is_terminal:
        ctx.log.info("Released Browserbase session %s: it has ended (status %s)", session_id, session.status)
    else:
        ctx.log.info(
            "Requested the release of Browserbase session %s (status %s)", session_id, session.status
        )
    if wait and session is not None and not session.is_terminal:
        session = yield from _wait_until_ended(ctx, session_id, wait_timeout, poll_interval)
    return session


def _wait_until_ended(
    ctx: CallContext, session_id: str, wait_timeout: float, poll_interval: float
) -> Generator[Step, Any, Session]:
    deadline = ctx.clock() + wait_timeout
    status: str | None = None
    while True:
        remaining = deadline - ctx.clock()
        if remaining <= 0:
            raise BrowserbaseSessionError(
                session_id,
                status,
                f"Browserbase session {session_id} was asked to end but was still {status} after "
                f"{wait_timeout:g} s",
            )
        yield Sleep(min(poll_interval, remaining))
        session = yield from _get(ctx, session_id)
        status = session.status
        if session.is_terminal:
            ctx.log.info("Browserbase session %s has ended (status %s)", session_id, session.status)
            return session


# ---------------------------------------------------------------------------------------------------------
# Live view, the page for a person
# ---------------------------------------------------------------------------------------------------------


def get_live_urls(session_id: str, expires_in: int | None = None) -> Operation[SessionLiveURLs]:
    """``GET /v1/sessions/{id}/debug``; the URLs grant control, so they are masked before any log."""
    path = api_path("/v1/sessions/{}/debug", session_id, what="session_id")
    call = ApiCall("get_live_urls", "GET", path, params={"expiresIn": expires_in}, session_id=session_id)

    def flow(ctx: CallContext) -> Generator[Step, Any, SessionLiveURLs]:
        live = parse_answer(call, SessionLiveURLs, (yield from read_json(ctx, call)))
        urls = [live.debugger_fullscreen_url, live.debugger_url, live.ws_url]
        for page in live.pages:
            urls += [page.debugger_url, page.debugger_fullscreen_url]
        yield Mask(live_url_secrets(urls))
        return live

    return flow


def session_url(session_id: str) -> Operation[str]:
    """
    A page for a person: the Browserbase dashboard, or the server's live view with its capability.

    A server other than Browserbase's cloud (``browserbase-local``) opens a session's live view only with
    the token that ``GET /v1/sessions/<id>/debug`` hands out: the URL is that answer's
    ``debuggerFullscreenUrl`` (the person's viewer; ``debuggerUrl`` is Chromium's DevTools, for developers),
    shown with its status line, and masked in logs like every live-view URL. Once the session has ended
    there is none, and the plain page, which then shows nothing without a token, is returned.
    """
    live_urls = get_live_urls(session_id)

    def flow(ctx: CallContext) -> Generator[Step, Any, str]:
        page = session_url_for(ctx.settings.base_url, session_id)
        if is_browserbase_cloud(ctx.settings.base_url):
            return page
        try:
            live = yield from live_urls(ctx)
        except BrowserbaseAPIError:
            return page
        return _with_status_line(live.debugger_fullscreen_url, page) or page

    return flow


def _with_status_line(viewer: str | None, page: str) -> str | None:
    # browserbase-local's fullscreen viewer is its live page with fullscreen=1; without it the same page
    # also shows the session's status, which suits a link from Airflow. Any other URL is kept as given.
    if not viewer:
        return None
    parts = urlsplit(viewer)
    if f"{parts.scheme}://{parts.netloc}{parts.path}" != page:
        return viewer
    query = [(key, value) for key, value in parse_qsl(parts.query) if key != "fullscreen"]
    return urlunsplit(parts._replace(query=urlencode(query)))
