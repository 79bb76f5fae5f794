"""Reading requests: the API key, JSON bodies validated by the project's models, multipart uploads."""

from __future__ import annotations

import json
import math
import secrets
from typing import TYPE_CHECKING, Any

from fastapi import Request  # noqa: TC002 - FastAPI resolves the dependency's annotation at runtime
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from airflow_provider_browserbase.local.errors import ApiError
from airflow_provider_browserbase.models import drop_unknown_fields, validation_errors

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.config import LocalConfig
    from airflow_provider_browserbase.local.state import Registry


def registry_of(request: Request) -> Registry:
    return request.app.state.registry


def config_of(request: Request) -> LocalConfig:
    return request.app.state.config


async def require_api_key(request: Request) -> None:
    given = request.headers.get("x-bb-api-key", "")
    if not secrets.compare_digest(given.encode(), config_of(request).api_key.encode()):
        raise ApiError(401, "Missing or invalid X-BB-API-Key header")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")  # Python accepts NaN and Infinity; JSON does not


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is out of range")
    return value


async def read_json_object(request: Request, *, required: bool = False) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        if required:
            raise ApiError(400, "body is required")
        return {}
    try:
        body = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body must be object")
    return body


def validation_message(exc: ValidationError) -> str:
    parts = []
    for path, rule in validation_errors(exc):
        wire = path.replace("[", "/").replace("]", "").replace(".", "/")
        parts.append(f"body/{wire} {rule}" if path != "(body)" else f"body {rule}")
    return "; ".join(parts)


def validate_body(model: type[Any], body: dict[str, Any]) -> Any:
    try:
        # Unknown fields (fingerprint, fields newer than this project) are accepted and ignored.
        return model.model_validate(drop_unknown_fields(model, body))
    except ValidationError as exc:
        raise ApiError(400, validation_message(exc)) from None


async def read_upload(request: Request) -> UploadFile:
    """Return the multipart ``file`` field or answer 4xx (never 500) for anything else."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise ApiError(415, "expected multipart/form-data with a 'file' field")
    try:
        form = await request.form()
    except Exception as exc:
        raise ApiError(400, f"malformed multipart body: {exc}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ApiError(400, "body/file is required (a file part named 'file')")
    return upload
