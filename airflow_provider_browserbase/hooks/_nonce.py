"""
Finding the sessions a create may have produced, by the nonce it carries in ``userMetadata``.

The API has no idempotency key: after an ambiguous failure (read timeout, 5xx) the create may or may not
have produced a session. Every create carries a nonce, so the hook can look the session up instead of
blindly creating another, and can end a duplicate that a lost create produced after all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from airflow_provider_browserbase.exceptions import (
    BrowserbaseAPIError,
    BrowserbaseError,
    BrowserbaseNotFoundError,
    BrowserbaseValidationError,
)
from airflow_provider_browserbase.hooks._context import read_json
from airflow_provider_browserbase.hooks._transport import (
    ApiCall,
    Outcome,
    Step,
    api_path,
    describe_outcome,
    parse_answer,
)
from airflow_provider_browserbase.models import (
    Session,
    SessionCreateParams,
    SessionUpdateParams,
    build_metadata_query,
    metadata_matches,
    validation_errors,
)

if TYPE_CHECKING:
    from collections.abc import Generator

    from airflow_provider_browserbase.hooks._context import CallContext

NONCE_PATH = ("airflow", "nonce")


def with_nonce(params: SessionCreateParams, nonce: str) -> SessionCreateParams:
    """``params`` with ``nonce`` under ``userMetadata.airflow.nonce``, still within the metadata limit."""
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


def list_sessions_flow(
    ctx: CallContext, status: str | None, query: str | None, call_name: str = "list_sessions"
) -> Generator[Step, Any, list[Session]]:
    call = ApiCall(call_name, "GET", "/v1/sessions", params={"status": status, "q": query})
    body = yield from read_json(ctx, call)
    return [parse_answer(call, Session, item) for item in body or []]


def sessions_with_nonce(ctx: CallContext, nonce: str, call_name: str) -> Generator[Step, Any, list[Session]]:
    query = build_metadata_query({NONCE_PATH[0]: {NONCE_PATH[1]: nonce}})
    sessions = yield from list_sessions_flow(ctx, None, query, call_name=call_name)
    # Filtered here too: a server that ignores the query must not get other sessions ended.
    terms = [(NONCE_PATH, nonce)]
    return [s for s in sessions if metadata_matches(s.user_metadata, terms)]


def find_by_nonce(
    ctx: CallContext, nonce: str, failure: Outcome, again: bool = False
) -> Generator[Step, Any, list[Session]]:
    """The sessions carrying ``nonce``, after ``failure`` left a create's fate unknown."""
    if again:
        ctx.log.warning(
            "Browserbase create_session: no session carries nonce %s yet; looking once more before "
            "sending the create again",
            nonce,
        )
    else:
        ctx.log.warning(
            "Browserbase create_session got %s: the session may exist; looking it up by its nonce",
            describe_outcome(failure),
        )
    try:
        matching = yield from sessions_with_nonce(ctx, nonce, "create_session lookup")
    except BrowserbaseError as err:
        raise BrowserbaseError(
            f"Browserbase create_session got {describe_outcome(failure)} and the lookup of the session "
            f"by its nonce failed too ({err}); a session tagged userMetadata.airflow.nonce={nonce!r} "
            "may exist"
        ) from None
    if len(matching) > 1:
        ctx.log.warning(
            "Browserbase create_session: %d sessions carry nonce %s; using %s",
            len(matching),
            nonce,
            matching[0].id,
        )
    return matching


def release_duplicates(
    ctx: CallContext, keep_id: str, nonce: str, listed: list[Session] | None = None
) -> Generator[Step, Any, bool]:
    """
    End every live session but ``keep_id`` carrying ``nonce``; best effort, never raises.

    Returns whether the sessions could be listed (so the sweep need not be repeated).
    """
    try:
        if listed is None:
            listed = yield from sessions_with_nonce(ctx, nonce, "duplicate session sweep")
        for extra in listed:
            if extra.id == keep_id or extra.is_terminal:
                continue
            ctx.log.warning(
                "Browserbase session %s was created by a create whose answer was lost (nonce %s), "
                "besides session %s; ending it",
                extra.id,
                nonce,
                keep_id,
            )
            try:
                yield from request_release(ctx, extra.id)
            except Exception as err:
                ctx.log.warning("Could not end duplicate Browserbase session %s: %s", extra.id, err)
    except Exception as err:
        ctx.log.warning(
            "Could not look for duplicates of Browserbase session %s (nonce %s): %s", keep_id, nonce, err
        )
        return False
    return True


def session_call(session_id: str) -> ApiCall:
    """``GET /v1/sessions/{id}``."""
    path = api_path("/v1/sessions/{}", session_id, what="session_id")
    return ApiCall("get_session", "GET", path, session_id=session_id)


def request_release(ctx: CallContext, session_id: str) -> Generator[Step, Any, Session | None]:
    """
    Ask for the release of a session; ``None`` when it does not exist (any more).

    Logs nothing about the outcome: the caller says, once, what happened.
    """
    path = api_path("/v1/sessions/{}", session_id, what="session_id")
    body = SessionUpdateParams(project_id=ctx.settings.project_id).to_api()
    call = ApiCall("end_session", "POST", path, json=body, session_id=session_id)
    try:
        return parse_answer(call, Session, (yield from read_json(ctx, call)))
    except BrowserbaseNotFoundError:
        return None
    except BrowserbaseAPIError as err:
        if err.status_code not in (400, 409, 410, 422):
            raise
        # Some servers refuse to release a session that has already ended: that is success too.
        lookup = session_call(session_id)
        current = parse_answer(lookup, Session, (yield from read_json(ctx, lookup)))
        if not current.is_terminal:
            raise
        return current
