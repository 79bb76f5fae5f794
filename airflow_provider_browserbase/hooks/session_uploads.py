"""A session's uploads: files put on the browser's host (``POST /v1/sessions/{id}/uploads``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_browserbase.hooks._context import file_part, read_json, upload_source
from airflow_provider_browserbase.hooks._transport import ApiCall, Step, api_path, parse_answer
from airflow_provider_browserbase.models import UploadResult

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path

    from airflow_provider_browserbase.hooks._context import CallContext, Operation


def upload_file(
    session_id: str, file: str | Path | bytes, filename: str | None = None
) -> Operation[UploadResult]:
    """Multipart field ``file``; a path is read when the call runs (in a thread under asyncio)."""
    path = api_path("/v1/sessions/{}/uploads", session_id, what="session_id")
    source, name = upload_source(file, filename)

    def flow(ctx: CallContext) -> Generator[Step, Any, UploadResult]:
        part = yield from file_part(source, name, "application/octet-stream")
        call = ApiCall("upload_file", "POST", path, files=part, session_id=session_id)
        return parse_answer(call, UploadResult, (yield from read_json(ctx, call)))

    return flow
