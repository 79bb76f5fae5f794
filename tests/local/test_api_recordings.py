"""
``browserbase-local``'s recordings: each page's screencast frames become an H.264 MP4 on request, served
at an expiring signed URL, and listed as replays with an HLS playlist.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from local_helpers import wait_for_status
from support import probe_mp4

if TYPE_CHECKING:
    from playwright.sync_api import Playwright

    from airflow_provider_browserbase.local.server import LocalServer

pytestmark = pytest.mark.browser


def _downloads_when_done(api: httpx.Client, session_id: str, timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        downloads = api.get(f"/v1/sessions/{session_id}/recording/downloads").json()["downloads"]
        if all(d["status"] == "COMPLETED" for d in downloads) or time.monotonic() > deadline:
            return downloads
        time.sleep(0.2)


def _record(pw: Playwright, api: httpx.Client, server: LocalServer, body: dict[str, Any]) -> str:
    created = api.post("/v1/sessions", json=body).json()
    browser = pw.chromium.connect_over_cdp(created["connectUrl"])
    try:
        page = browser.contexts[0].pages[0]
        page.goto(f"{server.base_url}/site/")
        page.evaluate("document.body.style.background = 'rgb(200, 30, 30)'")
        second = browser.contexts[0].new_page()
        second.goto(f"{server.base_url}/site/?two")
        second.close()
    finally:
        browser.close()
    wait_for_status(api, created["id"], "COMPLETED")
    return str(created["id"])


def test_each_page_is_an_h264_mp4_at_an_expiring_signed_url(
    pw: Playwright, api: httpx.Client, server: LocalServer
) -> None:
    session_id = _record(pw, api, server, {})
    assert api.get(f"/v1/sessions/{session_id}/recording/downloads").json() == {
        "downloads": [{"pageId": "0", "status": "NOT_REQUESTED"}, {"pageId": "1", "status": "NOT_REQUESTED"}]
    }
    requested = api.post(f"/v1/sessions/{session_id}/recording/downloads").json()
    assert requested == {
        "downloads": [{"pageId": "0", "status": "PENDING"}, {"pageId": "1", "status": "PENDING"}]
    }
    downloads = _downloads_when_done(api, session_id)
    assert [d["status"] for d in downloads] == ["COMPLETED", "COMPLETED"], downloads
    url = downloads[0]["downloadUrl"]
    assert url.startswith(f"{server.base_url}/recordings/{session_id}/0.mp4?")
    video = httpx.get(url, timeout=30)  # no API key: the signature is the credential
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    container, codec, frames, duration = probe_mp4(video.content)
    assert "mp4" in container
    assert codec == "h264"
    assert frames >= 2
    assert 0.1 < duration < 60
    # The URL opens nothing once its signature is altered, or for another page.
    assert httpx.get(url.replace("signature=", "signature=0"), timeout=30).status_code == 403
    assert httpx.get(url.replace("/0.mp4", "/1.mp4"), timeout=30).status_code == 403
    assert httpx.get(url.replace("/0.mp4", "/0.ts"), timeout=30).status_code == 403
    for name in ("..%2F..%2Fapp.py", "0.mp4%00.txt", "0.py"):
        forged = f"{server.base_url}/recordings/{session_id}/{name}?expires=99999999999&signature=0"
        assert httpx.get(forged, timeout=30).status_code in (403, 404)


def test_replays_list_the_pages_with_times_and_an_hls_playlist_of_the_same_video(
    pw: Playwright, api: httpx.Client, server: LocalServer
) -> None:
    session_id = _record(pw, api, server, {})
    replays = api.get(f"/v1/sessions/{session_id}/replays").json()
    assert replays["pageCount"] == 2
    first = replays["pages"][0]
    assert first["pageId"] == "0"
    assert 0 < first["startTimeMs"] <= first["endTimeMs"] <= time.time() * 1000
    assert first["url"] == f"{server.base_url}/v1/sessions/{session_id}/replays/0"
    playlist = api.get(first["url"], headers={"Accept": "application/vnd.apple.mpegurl"})
    assert playlist.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    lines = playlist.text.splitlines()
    assert lines[0] == "#EXTM3U"
    assert lines[-1] == "#EXT-X-ENDLIST"
    segment = next(line for line in lines if line.startswith("http"))
    assert segment.startswith(f"{server.base_url}/recordings/{session_id}/0.ts?")
    container, codec, frames, _ = probe_mp4(httpx.get(segment, timeout=30).content)
    assert (container, codec) == ("mpegts", "h264")
    assert frames >= 2
    assert api.get(f"/v1/sessions/{session_id}/replays/7").status_code == 404


def test_record_session_false_records_nothing(pw: Playwright, api: httpx.Client, server: LocalServer) -> None:
    session_id = _record(pw, api, server, {"browserSettings": {"recordSession": False}})
    assert api.get(f"/v1/sessions/{session_id}/replays").json() == {"pageCount": 0, "pages": []}
    assert api.post(f"/v1/sessions/{session_id}/recording/downloads").json() == {"downloads": []}
    assert server.app is not None
    settings = server.app.state.registry.sessions[session_id].settings
    assert settings.recorder is None


class FakeConn:
    """A CDP connection that records what is sent and lets the test deliver events."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None]] = []
        self.listeners: list[Any] = []

    async def send(
        self, method: str, params: Any = None, *, session_id: str | None = None, timeout: float = 30
    ) -> Any:
        self.sent.append((method, session_id))
        return {}

    def add_listener(self, callback: Any) -> Any:
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)

    def emit(self, message: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener(message)


def test_frames_are_capped_per_second_and_the_last_of_a_burst_is_kept(tmp_path: Any) -> None:
    import asyncio
    import base64
    from concurrent.futures import ThreadPoolExecutor

    from airflow_provider_browserbase.local.recording import MAX_FPS, SessionRecorder, frame_files

    async def scenario() -> tuple[list[Any], list[tuple[str, str | None]]]:
        conn = FakeConn()
        recorder = SessionRecorder(conn, tmp_path, "test")  # type: ignore[arg-type]
        await recorder.record_attached(["page-session"])
        for n in range(30):  # a burst of paints, far faster than MAX_FPS
            data = base64.b64encode(f"frame {n}".encode()).decode()
            conn.emit(
                {
                    "method": "Page.screencastFrame",
                    "sessionId": "page-session",
                    "params": {"data": data, "sessionId": n, "metadata": {"timestamp": 1000 + n / 1000}},
                }
            )
        await asyncio.sleep(2 / MAX_FPS)
        await recorder.stop()
        return frame_files(tmp_path / "0"), conn.sent

    # In a thread of its own: the module's Playwright driver runs an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        frames, sent = pool.submit(asyncio.run, scenario()).result()
    assert ("Page.startScreencast", "page-session") in sent
    assert sent.count(("Page.screencastFrameAck", "page-session")) == 30  # every frame acknowledged at once
    assert 2 <= len(frames) <= 3
    assert frames[0][1].read_bytes() == b"frame 0"
    assert frames[-1][1].read_bytes() == b"frame 29"  # the newest of the burst, written when its slot came
    assert [at for at, _ in frames] == sorted(at for at, _ in frames)


def _jpeg(width: int, height: int, shade: int) -> bytes:
    import fractions

    import av

    frame = av.VideoFrame(width, height, "yuvj420p")
    for plane in frame.planes:
        plane.update(bytes([shade]) * plane.buffer_size)
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuvj420p"
    codec.time_base = fractions.Fraction(1, 25)
    return b"".join(bytes(packet) for packet in [*codec.encode(frame), *codec.encode(None)])


def test_the_video_lasts_as_long_as_the_page_whatever_its_frames(tmp_path: Any) -> None:
    from airflow_provider_browserbase.local.recording_video import encode_mp4

    frames = []
    # Odd sides, a resized viewport, two frames in the same millisecond, and a truncated file.
    for n, (size, at) in enumerate([((801, 601), 1000), ((801, 601), 1000), ((640, 480), 1500)]):
        path = tmp_path / f"{n:06d}_{at}.jpg"
        path.write_bytes(_jpeg(*size, shade=40 * n))
        frames.append((at, path))
    broken = tmp_path / "000003_1700.jpg"
    broken.write_bytes(b"\xff\xd8 cut short")
    frames.append((1700, broken))
    assert encode_mp4(frames, 1000, 4000, tmp_path / "page.mp4") == 3
    container, codec, decoded, duration = probe_mp4((tmp_path / "page.mp4").read_bytes())
    assert "mp4" in container
    assert (codec, decoded) == ("h264", 4)  # three frames and the last one held to the page's end
    assert 2.9 < duration < 3.1
    # A page closed before its first paint: still a playable (black) video of its length.
    assert encode_mp4([], 1000, 3000, tmp_path / "empty.mp4") == 1
    assert 1.9 < probe_mp4((tmp_path / "empty.mp4").read_bytes())[3] < 2.1
