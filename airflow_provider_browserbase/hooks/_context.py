"""
What every operation runs with: the call context, and the steps all resources share.

An operation is a function of a :class:`CallContext` returning a step generator (see ``_transport``). The
hook builds the context before the first step: the sync driver reads the connection with
``get_connection``, the async driver with ``aget_connection``. An operation never looks anything up
itself, so an async call cannot block its event loop on a connection lookup, by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from airflow_provider_browserbase.exceptions import BrowserbaseValidationError
from airflow_provider_browserbase.hooks._transport import (
    ApiCall,
    Blocking,
    Outcome,
    Send,
    Sleep,
    Step,
    api_path,
    describe_outcome,
    is_retryable,
    json_body,
    outcome_error,
    parse_answer,
    retry_wait,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Generator

    import httpx
    from pydantic import BaseModel

    from airflow_provider_browserbase.hooks._connection import ConnectionSettings

T = TypeVar("T")
M = TypeVar("M", bound="BaseModel")


class Logger(Protocol):
    """What operations log with (the hook's logger: a stdlib or an Airflow structured logger)."""

    def info(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...

    def warning(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class CallContext:
    """
    Everything an operation may use, resolved before its first step.

    :param settings: the connection's base URL, API key and default project.
    :param max_retries: retries after the first attempt of a retryable request.
    :param max_retry_wait: longest ``Retry-After`` honoured.
    :param rate_limit_wait: total seconds a create may wait on HTTP 429.
    :param clock: a monotonic clock (for deadlines).
    :param random: a source of jitter in [0, 1).
    :param log: where operations log (the hook's logger, so lines land in the task log).
    :param ambiguous_nonces: the hook's record of sessions created by a re-sent create (session id ->
        create nonce): the one piece of state that outlives a call, so that ending such a session also
        ends a duplicate the first create may still produce.
    """

    settings: ConnectionSettings
    max_retries: int
    max_retry_wait: float
    rate_limit_wait: float
    clock: Callable[[], float]
    random: Callable[[], float]
    log: Logger
    ambiguous_nonces: dict[str, str] = field(default_factory=dict)


if TYPE_CHECKING:
    from typing import TypeAlias

    #: An operation: checked arguments waiting for a context; called, it gives the steps of one hook call.
    Operation: TypeAlias = "Callable[[CallContext], Generator[Step, Any, T]]"


def request(
    ctx: CallContext, call: ApiCall, max_retries: int | None = None
) -> Generator[Step, Any, httpx.Response]:
    """Send ``call``, retrying what its retry mode allows; return the success response or raise."""
    limit = ctx.max_retries if max_retries is None else max_retries
    retries = 0
    while True:
        outcome: Outcome = yield Send(call)
        if outcome.ok:
            assert outcome.response is not None
            return outcome.response
        if retries < limit and is_retryable(call, outcome):
            yield from retry_pause(ctx, call, outcome, retries, limit)
            retries += 1
            continue
        raise outcome_error(call, outcome)


def retry_pause(
    ctx: CallContext, call: ApiCall, outcome: Outcome, retries: int, limit: int
) -> Generator[Step, Any, None]:
    wait = retry_wait(outcome, retries, ctx.max_retry_wait, ctx.random)
    ctx.log.warning(
        "Browserbase %s got %s; retrying in %.2f s (retry %d of %d)",
        call.call,
        describe_outcome(outcome),
        wait,
        retries + 1,
        limit,
    )
    yield Sleep(wait)


def read_json(ctx: CallContext, call: ApiCall, max_retries: int | None = None) -> Generator[Step, Any, Any]:
    response = yield from request(ctx, call, max_retries)
    return json_body(call, response)


def one(call: ApiCall, model: type[M]) -> Operation[M]:
    """The operation reading one ``model`` from ``call``'s answer."""

    def flow(ctx: CallContext) -> Generator[Step, Any, M]:
        return parse_answer(call, model, (yield from read_json(ctx, call)))

    return flow


def many(call: ApiCall, model: type[M], max_retries: int | None = None) -> Operation[list[M]]:
    """The operation reading a list of ``model`` from ``call``'s answer."""

    def flow(ctx: CallContext) -> Generator[Step, Any, list[M]]:
        body = yield from read_json(ctx, call, max_retries)
        return [parse_answer(call, model, item) for item in body or []]

    return flow


def nothing(call: ApiCall) -> Operation[None]:
    """The operation sending ``call`` and keeping nothing of its answer (a DELETE)."""

    def flow(ctx: CallContext) -> Generator[Step, Any, None]:
        yield from request(ctx, call)

    return flow


def by_id_call(call: str, method: str, collection: str, resource_id: str, what: str) -> ApiCall:
    """A GET or DELETE of one context, extension or project (a DELETE answers with no body)."""
    path = api_path(f"/v1/{collection}/{{}}", resource_id, what=what)
    return ApiCall(call, method, path, accept="*/*" if method == "DELETE" else "application/json")


def upload_source(file: str | Path | bytes, filename: str | None) -> tuple[bytes | Path, str]:
    """Check an upload's arguments at once: the content (or the path to read later) and its file name."""
    if isinstance(file, (bytes, bytearray)):
        if not filename:
            raise BrowserbaseValidationError([("filename", "is required when uploading bytes")], "upload")
        return bytes(file), filename
    if not isinstance(file, (str, Path)) or not str(file).strip():
        raise BrowserbaseValidationError([("file", "must be a path or bytes")], "upload")
    path = Path(file)
    return path, filename or path.name


def file_part(source: bytes | Path, filename: str, content_type: str) -> Generator[Step, Any, dict[str, Any]]:
    """The multipart ``file`` field; a path is read as a blocking step (in a thread under asyncio)."""
    content = source if isinstance(source, bytes) else (yield Blocking(source.read_bytes))
    return {"file": (filename, content, content_type)}
