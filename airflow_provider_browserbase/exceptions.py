"""Exceptions raised by the Browserbase provider.

Every message names the call that failed and, where there is one, the session id. None of them ever
contains the API key, a signing key or a connect URL: they are built only from the call name, ids, the
HTTP status and the API's own message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.providers.common.compat.sdk import AirflowException

if TYPE_CHECKING:
    from collections.abc import Sequence


class BrowserbaseError(AirflowException):
    """Base class of every error raised by this provider."""


class BrowserbaseValidationError(BrowserbaseError, ValueError):
    """
    Invalid input, detected before any request is sent.

    :param errors: ``(field, rule)`` pairs, e.g. ``("session_timeout", "must be <= 21600")``.
    :param what: what was being validated, e.g. ``"session settings"``.
    """

    def __init__(self, errors: Sequence[tuple[str, str]], what: str = "input") -> None:
        self.errors = list(errors)
        self.what = what
        details = "; ".join(f"{field}: {rule}" for field, rule in self.errors)
        super().__init__(f"Invalid {what}: {details}")


class BrowserbaseAPIError(BrowserbaseError):
    """
    The Browserbase API answered with an HTTP error.

    :param call: the hook call that failed, e.g. ``"end_session"``.
    :param status_code: the HTTP status.
    :param api_message: the API's message (JSON ``message``, then ``error``, then the raw body).
    :param request_id: the ``x-request-id`` response header, if any.
    :param session_id: the session the call was about, if any.
    """

    # AirflowException declares ``status_code: HTTPStatus`` for its own API; ours is the upstream status.
    status_code: int  # type: ignore[assignment]

    def __init__(
        self,
        call: str,
        status_code: int,
        api_message: str = "",
        *,
        request_id: str | None = None,
        session_id: str | None = None,
    ) -> None:
        self.call = call
        self.status_code = status_code
        self.api_message = api_message
        self.request_id = request_id
        self.session_id = session_id
        super().__init__(self._describe())

    def _describe(self) -> str:
        subject = f"Browserbase {self.call}"
        if self.session_id:
            subject += f" for session {self.session_id}"
        text = f"{subject} failed with HTTP {self.status_code}"
        if self.api_message:
            text += f": {self.api_message}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text


class BrowserbaseBadRequestError(BrowserbaseAPIError):
    """HTTP 400/422: the API refused the request body or parameters."""


class BrowserbaseAuthenticationError(BrowserbaseAPIError):
    """HTTP 401: the API key is missing or wrong (check the connection's password field)."""


class BrowserbasePermissionDeniedError(BrowserbaseAPIError):
    """HTTP 403: the plan or key does not allow this (e.g. keepAlive on the free plan)."""


class BrowserbaseNotFoundError(BrowserbaseAPIError):
    """HTTP 404: no such session, context, extension or project."""


class BrowserbaseConflictError(BrowserbaseAPIError):
    """HTTP 409: e.g. a context name already in use."""


class BrowserbaseRateLimitError(BrowserbaseAPIError):
    """
    HTTP 429: a Browserbase limit was hit.

    :param limit_kind: ``"concurrent sessions"`` or ``"session creations per minute"`` when the response
        tells which, else ``"rate limit"``.
    :param retry_after: seconds the API asked to wait, if it said.
    """

    def __init__(
        self,
        call: str,
        status_code: int = 429,
        api_message: str = "",
        *,
        request_id: str | None = None,
        session_id: str | None = None,
        limit_kind: str = "rate limit",
        retry_after: float | None = None,
        limit: int | None = None,
    ) -> None:
        self.limit_kind = limit_kind
        self.retry_after = retry_after
        self.limit = limit
        super().__init__(call, status_code, api_message, request_id=request_id, session_id=session_id)

    def _describe(self) -> str:
        text = super()._describe()
        hint = f" [limit hit: {self.limit_kind}"
        if self.limit is not None:
            hint += f", limit {self.limit}"
        if self.retry_after is not None:
            hint += f", retry after {self.retry_after:g} s"
        return text + hint + "]"


class BrowserbaseServerError(BrowserbaseAPIError):
    """HTTP 5xx: a failure on Browserbase's side."""


class BrowserbaseConnectionError(BrowserbaseError):
    """
    The request did not get an HTTP answer (DNS, refused connection, TLS, read timeout...).

    :param call: the hook call that failed.
    :param reason: a short description of the transport error (never the request headers).
    """

    def __init__(self, call: str, reason: str, *, session_id: str | None = None) -> None:
        self.call = call
        self.reason = reason
        self.session_id = session_id
        subject = f"Browserbase {call}"
        if session_id:
            subject += f" for session {session_id}"
        super().__init__(f"{subject} failed: {reason}")


class BrowserbaseTimeoutError(BrowserbaseConnectionError):
    """The API did not answer within the configured timeout."""


class BrowserbaseSessionError(BrowserbaseError):
    """
    A session reached a state the task cannot accept (ERROR, TIMED_OUT, ended before use...).

    :param session_id: the session.
    :param status: its status.
    :param message: what went wrong, in words.
    """

    def __init__(self, session_id: str, status: str | None, message: str) -> None:
        self.session_id = session_id
        self.status = status
        super().__init__(message)


STATUS_ERRORS: dict[int, type[BrowserbaseAPIError]] = {
    400: BrowserbaseBadRequestError,
    401: BrowserbaseAuthenticationError,
    403: BrowserbasePermissionDeniedError,
    404: BrowserbaseNotFoundError,
    409: BrowserbaseConflictError,
    422: BrowserbaseBadRequestError,
    429: BrowserbaseRateLimitError,
}


def error_class_for_status(status_code: int) -> type[BrowserbaseAPIError]:
    """The exception class for an HTTP error status."""
    if status_code >= 500:
        return BrowserbaseServerError
    return STATUS_ERRORS.get(status_code, BrowserbaseAPIError)


class BrowserbaseLiveHandoffError(BrowserbaseError):
    """A person answered a live handoff, but the browser never reached the state the handoff checks for."""
