"""
Record every page of a session as screencast frames on disk, for ``recording/downloads`` and ``replays``.

Browserbase records each tab of a session as video unless ``recordSession: false``. Locally the settings
agent's CDP connection (which is attached to every page already) starts ``Page.startScreencast`` on each
page it attaches; Chromium sends a frame only when the page paints, so an idle page costs nothing. Each
frame is a JPEG written to ``<session folder>/recording/<pageId>/`` with its capture time in its name.
The MP4 is assembled from these files only when a client asks (``local/recording_video.py``).

What keeps it cheap while the session runs: frames are capped in size (``MAX_SIZE``) and quality, and in
rate (``MAX_FPS``): a frame arriving sooner than ``1 / MAX_FPS`` after the last one written replaces a
pending one, which is written when its slot comes, so the last picture of a burst of paints is never
lost. Every frame is acknowledged at once (Chromium stops sending after a few unacknowledged ones).

The live viewer (``local/devtools.py``) runs its own screencast on its own connection; Chromium keeps the
two apart (a screencast belongs to the CDP session that started it).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_browserbase.local.cdp import CdpError

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_browserbase.local.cdp import CdpConnection

log = logging.getLogger(__name__)

# Browserbase records up to 10 tabs; pages opened after that are not recorded (as there).
MAX_PAGES = 10
MAX_FPS = 10
# Past this many bytes of frames in a session, a page keeps one frame a second: a long, busy session still
# records to its end (where failures are) while its folder grows ten times slower.
FRAME_BUDGET = 200 * 2**20
SLOW_FPS = 1
MAX_SIZE = (1280, 800)
JPEG_QUALITY = 60
FRAME_SUFFIX = ".jpg"


@dataclass
class RecordedPage:
    """
    One recorded page (tab): its frames' folder and the times Browserbase reports for it.

    :param page_id: ``"0"``, ``"1"``, ... in the order the pages appeared (Browserbase's ``pageId``).
    :param folder: Where its frames are written.
    :param started_ms: Epoch milliseconds when recording of the page began.
    """

    page_id: str
    folder: Path
    started_ms: int
    ended_ms: int | None = None
    frames: int = 0
    size: int = 0
    last_written: float = 0.0
    pending: tuple[bytes, int] | None = None
    flush: asyncio.TimerHandle | None = field(default=None, repr=False)

    def end_ms(self) -> int:
        """The page's end: when it closed, else now (it is still open)."""
        return self.ended_ms if self.ended_ms is not None else int(time.time() * 1000)

    def write(self, data: bytes, at_ms: int) -> None:
        # One small JPEG (tens of kB), written on the loop: cheaper than a thread hop per frame.
        (self.folder / f"{self.frames:06d}_{at_ms}{FRAME_SUFFIX}").write_bytes(data)
        self.frames += 1
        self.size += len(data)
        self.last_written = time.monotonic()


class SessionRecorder:
    """
    Records the pages of one browser through a CDP connection that auto-attaches to them (the agent's).

    :param conn: A browser-level connection with flattened auto-attach to every page.
    :param folder: ``<session folder>/recording``.
    :param label: How logs name the session.
    """

    def __init__(self, conn: CdpConnection, folder: Path, label: str) -> None:
        self.conn = conn
        self.folder = folder
        self.label = label
        # CDP session id of the attached page -> its recording.
        self.pages: dict[str, RecordedPage] = {}
        self.stopped = False
        # pageId -> its MP4's assembly (``api_recordings.PageVideo``), once a client asked for it.
        self.videos: dict[str, Any] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._remove_listener = conn.add_listener(self._on_event)

    async def record_attached(self, page_sessions: list[str]) -> None:
        """Start recording pages that were attached before this recorder existed (a pooled browser's)."""
        await asyncio.gather(*(self._start(session_id) for session_id in page_sessions))

    def recorded(self) -> list[RecordedPage]:
        """The pages, in ``pageId`` order."""
        return sorted(self.pages.values(), key=lambda page: int(page.page_id))

    async def stop(self) -> None:
        """Write pending frames and stop listening (the browser is killed next: screencasts end with it)."""
        if self.stopped:
            return
        self.stopped = True
        self._remove_listener()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        now = int(time.time() * 1000)
        for page in self.pages.values():
            self._flush(page)
            if page.ended_ms is None:
                page.ended_ms = now

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_event(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        params = message.get("params") or {}
        session_id = message.get("sessionId")
        if method == "Page.screencastFrame" and session_id:
            self._frame(session_id, params)
        elif method == "Target.attachedToTarget" and not session_id:
            info = params.get("targetInfo", {})
            if info.get("type") == "page":
                self._spawn(self._start(params["sessionId"]))
        elif method == "Target.detachedFromTarget" and not session_id:
            page = self.pages.get(params.get("sessionId", ""))
            if page is not None and page.ended_ms is None:
                self._flush(page)
                page.ended_ms = int(time.time() * 1000)

    async def _start(self, session_id: str) -> None:
        if self.stopped or session_id in self.pages or len(self.pages) >= MAX_PAGES:
            return
        page_id = str(len(self.pages))
        folder = self.folder / page_id
        folder.mkdir(parents=True, exist_ok=True)
        self.pages[session_id] = RecordedPage(page_id, folder, int(time.time() * 1000))
        try:
            await self.conn.send(
                "Page.startScreencast",
                {
                    "format": "jpeg",
                    "quality": JPEG_QUALITY,
                    "maxWidth": MAX_SIZE[0],
                    "maxHeight": MAX_SIZE[1],
                },
                session_id=session_id,
            )
        except CdpError as exc:
            # The page closed while it was being set up: it is listed with no frames.
            log.debug("Session %s: recording page %s did not start: %s", self.label, page_id, exc)

    def _frame(self, session_id: str, params: dict[str, Any]) -> None:
        ack_id = params.get("sessionId")
        if ack_id is not None:
            self._spawn(self._ack(session_id, ack_id))
        page = self.pages.get(session_id)
        if page is None or self.stopped:
            return
        try:
            data = base64.b64decode(params.get("data", ""), validate=True)
        except (binascii.Error, ValueError):
            return
        timestamp = (params.get("metadata") or {}).get("timestamp")
        at_ms = int(timestamp * 1000) if isinstance(timestamp, (int, float)) else int(time.time() * 1000)
        fps = MAX_FPS if sum(p.size for p in self.pages.values()) < FRAME_BUDGET else SLOW_FPS
        wait = page.last_written + 1 / fps - time.monotonic()
        if wait <= 0 and page.pending is None:
            page.write(data, at_ms)
            return
        # Too soon after the last one: keep only the newest, written when its slot comes.
        page.pending = (data, at_ms)
        if page.flush is None:
            page.flush = asyncio.get_running_loop().call_later(max(wait, 0), self._flush, page)

    def _flush(self, page: RecordedPage) -> None:
        if page.flush is not None:
            page.flush.cancel()
            page.flush = None
        if page.pending is not None:
            data, at_ms = page.pending
            page.pending = None
            with contextlib.suppress(OSError):  # the folder is gone: the session's files were dropped
                page.write(data, at_ms)

    async def _ack(self, session_id: str, ack_id: int) -> None:
        with contextlib.suppress(CdpError):
            await self.conn.send("Page.screencastFrameAck", {"sessionId": ack_id}, session_id=session_id)


def frame_files(folder: Path) -> list[tuple[int, Path]]:
    """A page's frames as (capture time in epoch ms, file), in the order they were written."""
    found: list[tuple[int, int, Path]] = []
    for path in folder.glob(f"*{FRAME_SUFFIX}"):
        seq, _, at = path.stem.partition("_")
        if seq.isdigit() and at.isdigit():
            found.append((int(seq), int(at), path))
    return [(at, path) for _, at, path in sorted(found)]
