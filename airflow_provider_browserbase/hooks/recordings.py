"""
A session's video: one MP4 per recorded page (``recording/downloads``), and the replays (HLS) listing.

Browserbase assembles the MP4s asynchronously: a POST marks every page ``PENDING``, GETs report each page
and, once ``COMPLETED``, a short-lived signed ``downloadUrl`` minted anew on every answer.
:func:`download_recording` does the whole round: request, wait, then stream each file to the destination.
The ``downloadUrl`` points at a CDN, not at the API: it is fetched without the API key, and it is a
credential (masked before anything could log it; never in an error message).
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_browserbase.exceptions import BrowserbaseError, BrowserbaseValidationError
from airflow_provider_browserbase.hooks._context import one, read_json, request
from airflow_provider_browserbase.hooks._paths import destination_path, is_local
from airflow_provider_browserbase.hooks._transport import (
    ApiCall,
    Blocking,
    Mask,
    Sleep,
    Step,
    api_path,
    check_id,
    parse_answer,
    transport_reason,
)
from airflow_provider_browserbase.models import RecordingDownload, RecordingDownloads, SessionReplays

if TYPE_CHECKING:
    from collections.abc import Generator

    from airflow.sdk import ObjectStoragePath

    from airflow_provider_browserbase.hooks._context import CallContext, Operation

DEFAULT_RECORDING_TIMEOUT = 300.0
FIRST_POLL = 0.5
_CHUNK = 1 << 20
# A CDN answer can be slow to start for a large file; the read timeout is per chunk, not for the whole file.
_DOWNLOAD_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


def _downloads_call(session_id: str, method: str) -> ApiCall:
    path = api_path("/v1/sessions/{}/recording/downloads", session_id, what="session_id")
    name = "request_recording" if method == "POST" else "list_recording_downloads"
    # A POST re-enqueues every page (Browserbase: it "retries any that failed"), so repeating it after an
    # ambiguous failure is harmless: retried like a read.
    return ApiCall(name, method, path, session_id=session_id)


def _downloads(ctx: CallContext, call: ApiCall) -> Generator[Step, Any, list[RecordingDownload]]:
    body = yield from read_json(ctx, call)
    return parse_answer(call, RecordingDownloads, body).downloads


def request_recording(session_id: str) -> Operation[list[RecordingDownload]]:
    """``POST /v1/sessions/{id}/recording/downloads``: ask for one MP4 per page; every page is ``PENDING``."""
    call = _downloads_call(session_id, "POST")
    return lambda ctx: _downloads(ctx, call)


def list_recording_downloads(session_id: str) -> Operation[list[RecordingDownload]]:
    """``GET /v1/sessions/{id}/recording/downloads``: each page's status, and its URL once completed."""
    call = _downloads_call(session_id, "GET")
    return lambda ctx: _downloads(ctx, call)


def get_replays(session_id: str) -> Operation[SessionReplays]:
    """``GET /v1/sessions/{id}/replays``: the recorded pages, their times and HLS playlist URLs."""
    path = api_path("/v1/sessions/{}/replays", session_id, what="session_id")
    return one(ApiCall("get_replays", "GET", path, session_id=session_id), SessionReplays)


def get_replay_playlist(session_id: str, page_id: str) -> Operation[str]:
    """``GET /v1/sessions/{id}/replays/{pageId}``: the page's HLS playlist (its segment URLs are signed)."""
    check_id(page_id, "page_id")
    path = api_path("/v1/sessions/{}/replays/{}", session_id, page_id, what="session_id")
    call = ApiCall(
        "get_replay_playlist", "GET", path, accept="application/vnd.apple.mpegurl", session_id=session_id
    )

    def flow(ctx: CallContext) -> Generator[Step, Any, str]:
        response = yield from request(ctx, call)
        return response.text

    return flow


def recording_file_name(session_id: str, page_id: str) -> str:
    """The file of a page's video: the session and page in its name, so one folder can hold many."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{session_id}-page-{page_id}")
    return f"{safe}.mp4"


def download_recording(
    session_id: str,
    destination: str | Path | ObjectStoragePath,
    timeout: float = DEFAULT_RECORDING_TIMEOUT,
    poll_interval: float = 2.0,
) -> Operation[list[Any]]:
    """
    Request the session's MP4s, wait until every page's is ready, and stream each into ``destination``.

    Pages already ``COMPLETED`` are not requested again. A session without recorded pages (recorded with
    ``recordSession: false``) gives an empty list.
    """
    check_id(session_id, "session_id")
    if not isinstance(destination, (str, Path)) and not hasattr(destination, "joinpath"):
        raise BrowserbaseValidationError(
            [("destination", "must be a folder path or an ObjectStoragePath")], "download_recording"
        )
    if timeout <= 0:
        raise BrowserbaseValidationError([("timeout", "must be greater than 0")], "download_recording")
    post = _downloads_call(session_id, "POST")
    get = _downloads_call(session_id, "GET")

    def flow(ctx: CallContext) -> Generator[Step, Any, list[Any]]:
        pages = yield from _downloads(ctx, get)
        if not pages or not all(page.is_completed for page in pages):
            pages = yield from _downloads(ctx, post)
        if not pages:
            ctx.log.warning("Browserbase session %s has no recorded pages (recordSession false?)", session_id)
            return []
        pages = yield from _wait_completed(ctx, get, session_id, timeout, poll_interval)
        written: list[Any] = []
        for page in pages:
            written.append((yield from _save_page(ctx, get, session_id, page, destination)))
        return written

    return flow


def _wait_completed(
    ctx: CallContext, get: ApiCall, session_id: str, timeout: float, poll_interval: float
) -> Generator[Step, Any, list[RecordingDownload]]:
    deadline = ctx.clock() + timeout
    # Short first pauses (a page's MP4 is often ready within a second), growing to ``poll_interval``.
    pause = min(FIRST_POLL, poll_interval)
    while True:
        pages = yield from _downloads(ctx, get)
        failed = [page.page_id for page in pages if page.is_failed]
        if failed:
            raise BrowserbaseError(
                f"Browserbase could not assemble the recording of session {session_id}, page(s) "
                f"{', '.join(failed)} (FAILED; requesting the recording again retries them)"
            )
        waiting = [page.page_id for page in pages if not page.is_completed]
        if not waiting:
            return pages
        remaining = deadline - ctx.clock()
        if remaining <= 0:
            raise BrowserbaseError(
                f"Browserbase session {session_id}: the recording of page(s) {', '.join(waiting)} was not "
                f"ready after {timeout:g} s (raise the timeout for long sessions)"
            )
        ctx.log.info(
            "Browserbase session %s: recording of %d page(s) not ready yet; checking again in %.1f s",
            session_id,
            len(waiting),
            min(pause, remaining),
        )
        yield Sleep(min(pause, remaining))
        pause = min(pause * 2, poll_interval)


def _save_page(
    ctx: CallContext,
    get: ApiCall,
    session_id: str,
    page: RecordingDownload,
    destination: str | Path | ObjectStoragePath,
) -> Generator[Step, Any, Any]:
    """Stream one page's MP4; a failed transfer is retried with a fresh URL (the old one may have expired)."""
    attempts = ctx.max_retries + 1
    for attempt in range(1, attempts + 1):
        url = page.download_url
        if not url:
            raise BrowserbaseError(
                f"Browserbase listed page {page.page_id} of session {session_id}'s recording as COMPLETED "
                "without a downloadUrl (a bring-your-own-storage project keeps recordings in its bucket)"
            )
        yield Mask((url,))
        target = _target(destination, recording_file_name(session_id, page.page_id))
        problem = yield Blocking(functools.partial(_stream, url, target))
        if problem is None:
            return target
        if attempt == attempts:
            raise BrowserbaseError(
                f"Browserbase session {session_id}: downloading page {page.page_id}'s recording "
                f"failed: {problem}"
            )
        ctx.log.warning(
            "Browserbase session %s: downloading page %s's recording failed (%s); retrying with a new URL",
            session_id,
            page.page_id,
            problem,
        )
        yield Sleep(min(2.0**attempt, 8.0))
        fresh = yield from _downloads(ctx, get)
        page = next((p for p in fresh if p.page_id == page.page_id), page)
    raise AssertionError("unreachable")


def _target(destination: str | Path | ObjectStoragePath, name: str) -> Any:
    return destination_path(destination) / name


def _stream(url: str, target: Any) -> str | None:
    """
    Copy ``url`` to ``target`` chunk by chunk (never the whole file in memory).

    A local file is written as ``<name>.part`` and renamed when complete, so a reader never sees half a
    video; an object store makes an object visible only once its upload is closed anyway.

    :return: ``None`` when written, else why not (built without the URL: it is a credential).
    """
    partial = target.with_name(target.name + ".part") if is_local(target) else target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with (
            httpx.Client(timeout=_DOWNLOAD_TIMEOUT, follow_redirects=True) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                return f"HTTP {response.status_code}"
            with partial.open("wb") as sink:
                for chunk in response.iter_bytes(_CHUNK):
                    sink.write(chunk)
        if partial is not target:
            partial.rename(target)
    except httpx.TransportError as error:
        _discard(partial)
        return transport_reason(error)
    except BaseException:
        _discard(partial)
        raise
    return None


def _discard(path: Any) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
