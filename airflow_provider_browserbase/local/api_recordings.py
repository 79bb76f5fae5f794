"""
A session's video: ``recording/downloads`` (one MP4 per page), ``replays`` and ``replays/{pageId}`` (HLS).

The frames are recorded while the session runs (``local/recording.py``). ``POST recording/downloads``
marks every recorded page ``PENDING`` and assembles its MP4 in a worker thread (``recording_video.py``),
one page at a time per server so assembling never takes every core from running browsers; ``GET`` reports
each page and, once ``COMPLETED``, a ``downloadUrl`` minted anew on every answer. That URL is the one way
to the file without the API key: ``/recordings/<session>/<page>.mp4?expires=<epoch s>&signature=<hmac>``,
signed with the session's own random secret and valid for ``DOWNLOAD_URL_TTL`` seconds, so the URL of
one session opens nothing of another and a leaked URL stops working soon.

Choices where Browserbase does not say: a POST while the session runs assembles what was recorded so far
(each page's video ends at the POST); a page of a session without a recording (``recordSession: false``,
or ``--no-browser``) is simply not listed; ``replays`` pages' ``url`` is the page's HLS playlist (the SDK
documents "the URL of each page's HLS playlist"), and ``replays/{pageId}`` assembles the MP4 first if no
POST did; its segment is the same H.264 stream remuxed into MPEG-TS (HLS players read TS segments; a plain
MP4 is no valid HLS segment), signed like the MP4.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, JSONResponse, Response

from airflow_provider_browserbase.local.errors import ApiError, error_response
from airflow_provider_browserbase.local.inputs import config_of, registry_of
from airflow_provider_browserbase.local.recording import frame_files
from airflow_provider_browserbase.local.records import iso, utcnow

if TYPE_CHECKING:
    import datetime as dt
    from pathlib import Path

    from airflow_provider_browserbase.local.config import LocalConfig
    from airflow_provider_browserbase.local.recording import RecordedPage, SessionRecorder
    from airflow_provider_browserbase.local.records import Session

log = logging.getLogger(__name__)

DOWNLOAD_URL_TTL = 600
HLS_TYPE = "application/vnd.apple.mpegurl"
# One assembly at a time per server process: x264 is the one expensive step of recording.
_ASSEMBLY_SLOTS: dict[int, asyncio.Semaphore] = {}


@dataclass
class PageVideo:
    """The MP4 of one page: its assembly and when it finished."""

    status: str = "NOT_REQUESTED"
    completed_at: dt.datetime | None = None
    duration_s: float = 0.0
    task: asyncio.Task[None] | None = field(default=None, repr=False)


def recorder_of(session: Session) -> SessionRecorder | None:
    settings = session.settings
    return settings.recorder if settings is not None else None


def _videos(recorder: SessionRecorder) -> dict[str, PageVideo]:
    return recorder.videos


# The files a page's video is served as: the MP4 (downloads) and the same stream in MPEG-TS (HLS).
MEDIA_TYPES = {"mp4": "video/mp4", "ts": "video/mp2t"}


def video_path(recorder: SessionRecorder, page_id: str, kind: str = "mp4") -> Path:
    return recorder.folder / f"{page_id}.{kind}"


def sign(session: Session, name: str, expires: int) -> str:
    """The signature of ``/recordings/<session>/<name>`` until ``expires`` (``name``: ``0.mp4``...)."""
    message = f"recording:{session.id}:{name}:{expires}".encode()
    return hmac.new(session.live_secret, message, hashlib.sha256).hexdigest()


def download_url(config: LocalConfig, session: Session, page_id: str, kind: str = "mp4") -> str:
    expires = int(time.time()) + DOWNLOAD_URL_TTL
    name = f"{page_id}.{kind}"
    query = urlencode({"expires": expires, "signature": sign(session, name, expires)})
    return f"{config.base_url}/recordings/{session.id}/{name}?{query}"


def _assemble(session: Session, recorder: SessionRecorder, page: RecordedPage) -> asyncio.Task[None]:
    """Start (or restart after a failure) the MP4 assembly of ``page``."""
    videos = _videos(recorder)
    video = videos.setdefault(page.page_id, PageVideo())
    if video.task is not None and not video.task.done():
        return video.task
    video.status = "PENDING"
    video.completed_at = None
    loop = asyncio.get_running_loop()
    slots = _ASSEMBLY_SLOTS.setdefault(id(loop), asyncio.Semaphore(1))

    async def run() -> None:
        from airflow_provider_browserbase.local.recording_video import encode_mp4, remux_ts

        async with slots:
            ended_ms = page.end_ms()
            mp4 = video_path(recorder, page.page_id)
            try:
                frames = await asyncio.to_thread(frame_files, page.folder)
                await asyncio.to_thread(encode_mp4, frames, page.started_ms, ended_ms, mp4)
                await asyncio.to_thread(remux_ts, mp4, video_path(recorder, page.page_id, "ts"))
            except Exception:
                log.warning(
                    "Session %s: assembling page %s's video failed", session.id, page.page_id, exc_info=True
                )
                video.status = "FAILED"
                return
        video.duration_s = max(0.001, (ended_ms - page.started_ms) / 1000)
        video.status = "COMPLETED"
        video.completed_at = utcnow()

    video.task = loop.create_task(run())
    return video.task


def _download_entry(
    config: LocalConfig, session: Session, page_id: str, video: PageVideo | None
) -> dict[str, Any]:
    if video is None:
        return {"pageId": page_id, "status": "NOT_REQUESTED"}
    entry: dict[str, Any] = {"pageId": page_id, "status": video.status}
    if video.status == "COMPLETED" and video.completed_at is not None:
        entry["completedAt"] = iso(video.completed_at)
        entry["downloadUrl"] = download_url(config, session, page_id)
    return entry


def _pages(session: Session) -> tuple[SessionRecorder | None, list[RecordedPage]]:
    recorder = recorder_of(session)
    return recorder, (recorder.recorded() if recorder is not None else [])


def recording_router() -> APIRouter:
    """The recording endpoints under ``/v1/sessions``; the caller adds the API-key dependency."""
    router = APIRouter(prefix="/v1/sessions")

    @router.post("/{session_id}/recording/downloads", operation_id="recording_downloads_post")
    async def request_downloads(request: Request, session_id: str) -> JSONResponse:
        session = registry_of(request).get_session(session_id)
        recorder, pages = _pages(session)
        if recorder is not None and session.files_dropped:
            raise ApiError(410, f"Session {session_id}'s recording is no longer kept")
        for page in pages:
            assert recorder is not None
            _assemble(session, recorder, page)
        # Re-posting re-enqueues every page (Browserbase: "retries any that failed"): all answer PENDING.
        return JSONResponse({"downloads": [{"pageId": p.page_id, "status": "PENDING"} for p in pages]})

    @router.get("/{session_id}/recording/downloads", operation_id="recording_downloads_get")
    async def list_downloads(request: Request, session_id: str) -> JSONResponse:
        session = registry_of(request).get_session(session_id)
        recorder, pages = _pages(session)
        videos = _videos(recorder) if recorder is not None else {}
        config = config_of(request)
        return JSONResponse(
            {"downloads": [_download_entry(config, session, p.page_id, videos.get(p.page_id)) for p in pages]}
        )

    @router.get("/{session_id}/replays")
    async def replays(request: Request, session_id: str) -> JSONResponse:
        session = registry_of(request).get_session(session_id)
        _, pages = _pages(session)
        base = config_of(request).base_url
        listed = [
            {
                "pageId": page.page_id,
                "startTimeMs": page.started_ms,
                "endTimeMs": page.end_ms(),
                "url": f"{base}/v1/sessions/{session.id}/replays/{page.page_id}",
            }
            for page in pages
        ]
        return JSONResponse({"pageCount": len(listed), "pages": listed})

    @router.get("/{session_id}/replays/{page_id}")
    async def replay_page(request: Request, session_id: str, page_id: str) -> Response:
        from airflow_provider_browserbase.local.recording_video import hls_playlist

        session = registry_of(request).get_session(session_id)
        recorder, pages = _pages(session)
        page = next((p for p in pages if p.page_id == page_id), None)
        if recorder is None or page is None:
            raise ApiError(404, f"Session {session_id} has no recorded page {page_id}")
        video = _videos(recorder).get(page_id)
        if video is None or video.status != "COMPLETED":
            await asyncio.shield(_assemble(session, recorder, page))
            video = _videos(recorder)[page_id]
        if video.status != "COMPLETED":
            raise ApiError(500, f"Session {session_id}: the video of page {page_id} could not be assembled")
        url = download_url(config_of(request), session, page_id, "ts")
        return Response(hls_playlist(url, video.duration_s), media_type=HLS_TYPE)

    return router


async def recording_file(request: Request) -> Response:
    """Serve ``/recordings/<session>/<page>.<mp4|ts>?expires=...&signature=...``: no API key, a signed URL."""
    session_id = request.path_params["session_id"]
    name = request.path_params["name"]
    page_id, _, kind = name.partition(".")
    expires_text = request.query_params.get("expires", "")
    signature = request.query_params.get("signature", "")
    session = registry_of(request).sessions.get(session_id)
    recorder = recorder_of(session) if session is not None else None
    if session is None or recorder is None or not expires_text.isdigit():
        return error_response(404, "No such recording")
    if not hmac.compare_digest(sign(session, name, int(expires_text)).encode(), signature.encode()):
        return error_response(403, "The recording URL's signature does not match")
    if int(expires_text) < time.time():
        return error_response(
            403, "The recording URL has expired; list the session's downloads for a new one"
        )
    if not page_id.isdigit() or kind not in MEDIA_TYPES:
        return error_response(404, "No such recording")
    path = video_path(recorder, page_id, kind)
    if not path.is_file():
        return error_response(404, "No such recording")
    return FileResponse(path, media_type=MEDIA_TYPES[kind], headers={"Cache-Control": "private, no-store"})
