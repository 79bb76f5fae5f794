"""Error responses in Browserbase's shape: ``{statusCode, error, message}``."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import TYPE_CHECKING

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from airflow_provider_browserbase.local.state import (
    BrowserStartError,
    ConflictError,
    LimitExceededError,
    NotFoundError,
)

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request

log = logging.getLogger(__name__)


class ApiError(Exception):
    """
    An error answered as JSON with the given status.

    :param status_code: HTTP status.
    :param message: Human-readable text; never contains a secret.
    :param headers: Extra response headers.
    """

    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers or {}


def error_response(status_code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:
        phrase = "Error"
    body = {"statusCode": status_code, "error": phrase, "message": message}
    return JSONResponse(body, status_code=status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map every failure, including ones FastAPI raises itself, to the error body."""

    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status_code, exc.message, exc.headers)

    async def not_found(_: Request, exc: Exception) -> JSONResponse:
        return error_response(404, str(exc))

    async def conflict(_: Request, exc: Exception) -> JSONResponse:
        return error_response(409, str(exc))

    async def limited(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LimitExceededError)
        return error_response(429, exc.message, exc.headers)

    async def browser_failed(_: Request, exc: Exception) -> JSONResponse:
        return error_response(500, str(exc))

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return error_response(exc.status_code, message, dict(exc.headers or {}))

    async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for error in exc.errors():
            where = "/".join(str(p) for p in error.get("loc", ()))
            parts.append(f"{where} {error.get('msg', 'is invalid')}".strip())
        return error_response(400, "; ".join(parts) or "invalid request")

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("Unhandled error in browserbase-local", exc_info=exc)
        return error_response(500, "Internal error in browserbase-local; see the server log")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(ConflictError, conflict)
    app.add_exception_handler(LimitExceededError, limited)
    app.add_exception_handler(BrowserStartError, browser_failed)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, unexpected)
