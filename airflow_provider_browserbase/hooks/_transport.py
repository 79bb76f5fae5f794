"""
The I/O-free core of the hook: requests as data, retry decisions and error mapping.

The hook's operations are generators that yield :class:`Send`, :class:`Sleep` and :class:`Mask` steps and
receive their results; a sync driver (``httpx.Client``, ``time.sleep``) and an async driver
(``httpx.AsyncClient``, ``asyncio.sleep``) carry the steps out. Every decision lives here, once.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from airflow_provider_browserbase.exceptions import (
    BrowserbaseAPIError,
    BrowserbaseConnectionError,
    BrowserbaseError,
    BrowserbaseRateLimitError,
    BrowserbaseTimeoutError,
    BrowserbaseValidationError,
    error_class_for_status,
)
from airflow_provider_browserbase.models import validation_errors

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

M = TypeVar("M", bound=BaseModel)

INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_ERROR_TEXT = 500

RetryMode = Literal["idempotent", "unsent"]
"""``idempotent``: retry transport errors, 408, 409, 429 and 5xx. ``unsent``: retry only when the request
provably had no effect (connect-phase errors, 429)."""

RETRYABLE_STATUSES = frozenset({408, 409, 429})

# Raised before a byte of the request left this machine: repeating it cannot duplicate anything.
UNSENT_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class ApiCall:
    """
    One API request, as data.

    :param call: the hook call it belongs to, used in logs and errors (e.g. ``"get_session"``).
    :param method: HTTP method.
    :param path: path below the base URL, ids already encoded (see :func:`api_path`).
    :param params: query parameters.
    :param json: JSON body.
    :param files: multipart files, as httpx takes them.
    :param accept: the ``Accept`` header.
    :param session_id: the session concerned, for error messages.
    :param retry: which failures may be retried.
    """

    call: str
    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    files: Mapping[str, Any] | None = None
    accept: str = "application/json"
    session_id: str | None = None
    retry: RetryMode = "idempotent"

    def request_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"headers": {"Accept": self.accept}}
        if self.params:
            kwargs["params"] = {k: v for k, v in self.params.items() if v is not None}
        if self.json is not None:
            kwargs["json"] = self.json
        if self.files is not None:
            kwargs["files"] = self.files
        return kwargs


@dataclass(frozen=True)
class Outcome:
    """What sending an :class:`ApiCall` gave: a response, or the transport error raised instead."""

    response: httpx.Response | None = None
    error: Exception | None = None

    @property
    def status(self) -> int | None:
        return self.response.status_code if self.response is not None else None

    @property
    def ok(self) -> bool:
        return self.response is not None and self.response.is_success


@dataclass(frozen=True)
class Send:
    call: ApiCall


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Mask:
    """Register secrets with Airflow's masker before anything can log them."""

    secrets: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Blocking:
    """Work that blocks (file I/O): the sync driver calls it, the async driver runs it in a thread."""

    work: Callable[[], Any]


Step = Send | Sleep | Mask | Blocking


def check_id(value: str, what: str = "id") -> str:
    """``value`` if it can name a resource; an empty or non-string id fails before any request."""
    if not isinstance(value, str) or not value.strip():
        raise BrowserbaseValidationError([(what, "must be a non-empty string")], "request")
    return value


def api_path(template: str, *ids: str, what: str = "id") -> str:
    """Fill ``{}`` slots of ``template`` with percent-encoded ids (each checked by :func:`check_id`)."""
    return template.format(*(quote(check_id(value, what), safe="") for value in ids))


# ---------------------------------------------------------------------------------------------------------
# Waiting
# ---------------------------------------------------------------------------------------------------------


def parse_retry_after(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """Seconds the server asked to wait (``retry-after-ms``, then ``retry-after`` as seconds or HTTP-date)."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.timestamp() - (time.time() if now is None else now)


def backoff(retries_done: int, rand: Callable[[], float] = random.random) -> float:
    """The SDK's exponential backoff with jitter: ``min(0.5 * 2**n, 8) * (1 - 0.25 * random)``."""
    return min(INITIAL_RETRY_DELAY * 2.0**retries_done, MAX_RETRY_DELAY) * (1 - 0.25 * rand())


def retry_wait(
    outcome: Outcome, retries_done: int, max_retry_wait: float, rand: Callable[[], float] = random.random
) -> float:
    """The server's ``Retry-After`` when it is in (0, ``max_retry_wait``], else the backoff."""
    if outcome.response is not None:
        hinted = parse_retry_after(outcome.response.headers)
        if hinted is not None and 0 < hinted <= max_retry_wait:
            return hinted
    return backoff(retries_done, rand)


def should_retry_header(outcome: Outcome) -> bool | None:
    """``x-should-retry``: ``True`` forces a retry, ``False`` forbids one, ``None`` when absent."""
    if outcome.response is None:
        return None
    value = outcome.response.headers.get("x-should-retry", "").strip().lower()
    return {"true": True, "false": False}.get(value)


def is_retryable(call: ApiCall, outcome: Outcome) -> bool:
    """Whether a failed outcome may be retried (attempt limits aside)."""
    forced = should_retry_header(outcome)
    if forced is not None:
        return forced
    if outcome.error is not None:
        return call.retry == "idempotent" or isinstance(outcome.error, UNSENT_ERRORS)
    status = outcome.status or 0
    if call.retry == "unsent":
        return status == 429
    return status in RETRYABLE_STATUSES or status >= 500


def is_ambiguous(outcome: Outcome) -> bool:
    """Whether the server may have acted on the request although we got no success answer."""
    if outcome.error is not None:
        return not isinstance(outcome.error, UNSENT_ERRORS)
    status = outcome.status or 0
    return status >= 500 or status == 408


# ---------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------

_TRANSPORT_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (httpx.ConnectTimeout, "timed out connecting to the API"),
    (httpx.ConnectError, "could not connect to the API"),
    (httpx.PoolTimeout, "timed out waiting for a free connection"),
    (httpx.ReadTimeout, "timed out waiting for the API's answer"),
    (httpx.WriteTimeout, "timed out sending the request"),
    (httpx.RemoteProtocolError, "the API closed the connection without a valid answer"),
    (httpx.ReadError, "the connection broke while reading the answer"),
    (httpx.WriteError, "the connection broke while sending the request"),
)


def transport_reason(error: Exception) -> str:
    """A description of a transport error built from its class only (its text may hold URLs)."""
    for kind, reason in _TRANSPORT_REASONS:
        if isinstance(error, kind):
            return f"{reason} ({type(error).__name__})"
    return f"transport error ({type(error).__name__})"


def transport_error(call: ApiCall, error: Exception) -> BrowserbaseConnectionError:
    kind = (
        BrowserbaseTimeoutError if isinstance(error, httpx.TimeoutException) else BrowserbaseConnectionError
    )
    return kind(call.call, transport_reason(error), session_id=call.session_id)


def api_message(response: httpx.Response) -> str:
    """The API's message: JSON ``message``, then ``error``, then the raw text, truncated."""
    text = response.text
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    message = ""
    if isinstance(body, dict):
        for key in ("message", "error"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                message = value.strip()
                break
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                message = value["message"].strip()
                break
    if not message:
        message = text.strip()
    if len(message) > MAX_ERROR_TEXT:
        message = message[:MAX_ERROR_TEXT] + "…"
    return message


_LIMIT_IN_MESSAGE = re.compile(r"limit\D{0,3}(\d+)", re.IGNORECASE)


def rate_limit_details(response: httpx.Response, message: str) -> tuple[str, int | None]:
    """Which limit a 429 is about (``concurrent sessions``, ``session creations per minute``) and its size."""
    lowered = message.lower()
    if "concurren" in lowered:
        kind = "concurrent sessions"
    elif any(word in lowered for word in ("per minute", "creation", "created", "rate")):
        kind = "session creations per minute"
    elif response.headers.get("x-should-retry", "").strip().lower() == "false":
        # A concurrency 429 only clears when another session ends, so servers mark it not retryable.
        kind = "concurrent sessions"
    else:
        kind = "rate limit"
    limit: int | None = None
    header = response.headers.get("x-ratelimit-limit")
    if header and header.strip().isdigit():
        limit = int(header)
    elif match := _LIMIT_IN_MESSAGE.search(message):
        limit = int(match.group(1))
    return kind, limit


def response_error(call: ApiCall, response: httpx.Response) -> BrowserbaseAPIError:
    """The exception for an HTTP error response."""
    message = api_message(response)
    request_id = response.headers.get("x-request-id")
    if response.status_code == 429:
        kind, limit = rate_limit_details(response, message)
        retry_after = parse_retry_after(response.headers)
        return BrowserbaseRateLimitError(
            call.call,
            429,
            message,
            request_id=request_id,
            session_id=call.session_id,
            limit_kind=kind,
            limit=limit,
            retry_after=round(retry_after, 3) if retry_after is not None and retry_after > 0 else None,
        )
    return error_class_for_status(response.status_code)(
        call.call, response.status_code, message, request_id=request_id, session_id=call.session_id
    )


def outcome_error(call: ApiCall, outcome: Outcome) -> BrowserbaseError:
    if outcome.response is not None:
        return response_error(call, outcome.response)
    assert outcome.error is not None
    return transport_error(call, outcome.error)


def describe_outcome(outcome: Outcome) -> str:
    """``HTTP 503`` or the transport error's class name, for retry log lines."""
    if outcome.response is not None:
        return f"HTTP {outcome.response.status_code}"
    return type(outcome.error).__name__


def parse_answer(call: ApiCall, model: type[M], body: Any) -> M:
    """
    A success answer read as ``model``.

    :raises BrowserbaseError: naming the fields that do not fit (an answer missing a field the API
        documents as always present is a broken answer, not a value to guess).
    """
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(f"{path}: {rule}" for path, rule in validation_errors(exc))
        raise BrowserbaseError(
            f"Browserbase {call.call} returned an answer this provider cannot read ({problems})"
        ) from None


def json_body(call: ApiCall, response: httpx.Response) -> Any:
    """The decoded JSON body of a success response."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise BrowserbaseError(
            f"Browserbase {call.call} returned HTTP {response.status_code} with a body that is not JSON"
        ) from None
