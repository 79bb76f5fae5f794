"""
A session's downloads: the zip of the files its browser downloaded, waiting while they sync, and
extracting them safely (``_downloads``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_browserbase.exceptions import BrowserbaseError
from airflow_provider_browserbase.hooks._context import request
from airflow_provider_browserbase.hooks._downloads import (
    DEFAULT_MAX_FILES,
    DEFAULT_MAX_TOTAL_BYTES,
    count_files,
    extract_files,
)
from airflow_provider_browserbase.hooks._transport import ApiCall, Blocking, Sleep, Step, api_path

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path

    from airflow.sdk import ObjectStoragePath

    from airflow_provider_browserbase.hooks._context import CallContext, Operation


def _zip_call(session_id: str) -> ApiCall:
    path = api_path("/v1/sessions/{}/downloads", session_id, what="session_id")
    return ApiCall("get_downloads", "GET", path, accept="application/zip", session_id=session_id)


def _zip(ctx: CallContext, call: ApiCall) -> Generator[Step, Any, bytes]:
    response = yield from request(ctx, call)
    return response.content


def get_downloads_zip(session_id: str) -> Operation[bytes]:
    """``GET /v1/sessions/{id}/downloads``: one zip of every file (an empty archive is 22 bytes)."""
    call = _zip_call(session_id)
    return lambda ctx: _zip(ctx, call)


def wait_for_downloads(
    session_id: str, timeout: float = 60, poll_interval: float = 2, min_files: int = 1
) -> Operation[bytes]:
    """The downloads zip once it holds ``min_files`` files; polls while it has fewer (sync lags)."""
    call = _zip_call(session_id)
    return lambda ctx: _wait(ctx, call, session_id, timeout, poll_interval, min_files)


def _wait(
    ctx: CallContext, call: ApiCall, session_id: str, timeout: float, poll_interval: float, min_files: int
) -> Generator[Step, Any, bytes]:
    deadline = ctx.clock() + timeout
    while True:
        data = yield from _zip(ctx, call)
        found = count_files(data)
        if found >= min_files:
            return data
        remaining = deadline - ctx.clock()
        if remaining <= 0:
            raise BrowserbaseError(
                f"Browserbase session {session_id} had {found} downloaded file(s) after {timeout:g} s; "
                f"expected at least {min_files} (downloads sync after the browser saves them)"
            )
        ctx.log.info(
            "Browserbase session %s has %d downloaded file(s) so far; checking again in %.1f s",
            session_id,
            found,
            min(poll_interval, remaining),
        )
        yield Sleep(min(poll_interval, remaining))


def download_files(
    session_id: str,
    destination: str | Path | ObjectStoragePath,
    timeout: float = 60,
    poll_interval: float = 2,
    min_files: int = 1,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_files: int = DEFAULT_MAX_FILES,
) -> Operation[list[Any]]:
    """Wait for the downloads, then extract them into ``destination`` (see :func:`extract_files`)."""
    call = _zip_call(session_id)

    def flow(ctx: CallContext) -> Generator[Step, Any, list[Any]]:
        data = yield from _wait(ctx, call, session_id, timeout, poll_interval, min_files)
        written: list[Any] = yield Blocking(
            lambda: extract_files(data, destination, max_total_bytes=max_total_bytes, max_files=max_files)
        )
        return written

    return flow
