"""The extensions resource: Chrome extensions uploaded once, loaded by sessions (``extension_id``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_browserbase.hooks._context import (
    by_id_call,
    file_part,
    nothing,
    one,
    read_json,
    upload_source,
)
from airflow_provider_browserbase.hooks._transport import ApiCall, Step, parse_answer
from airflow_provider_browserbase.models import Extension

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path

    from airflow_provider_browserbase.hooks._context import CallContext, Operation


def upload_extension(file: str | Path | bytes, filename: str | None = None) -> Operation[Extension]:
    """``POST /v1/extensions`` with the extension zip (multipart field ``file``)."""
    source, name = upload_source(file, filename or "extension.zip")
    return lambda ctx: _upload(ctx, source, name)


def _upload(ctx: CallContext, source: Any, name: str) -> Generator[Step, Any, Extension]:
    part = yield from file_part(source, name, "application/zip")
    call = ApiCall("upload_extension", "POST", "/v1/extensions", files=part, retry="unsent")
    return parse_answer(call, Extension, (yield from read_json(ctx, call)))


def get_extension(extension_id: str) -> Operation[Extension]:
    """``GET /v1/extensions/{id}``."""
    return one(by_id_call("get_extension", "GET", "extensions", extension_id, "extension_id"), Extension)


def delete_extension(extension_id: str) -> Operation[None]:
    """``DELETE /v1/extensions/{id}``."""
    return nothing(by_id_call("delete_extension", "DELETE", "extensions", extension_id, "extension_id"))
