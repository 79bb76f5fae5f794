"""
Recordings: requesting the MP4s, waiting for them, streaming each from its signed URL, and replays.

The API answers come from the scripted API (the hook's transport); the signed ``downloadUrl`` points at a
CDN, fetched by a client of its own without the API key, so it is mocked with ``respx``.
"""

from __future__ import annotations

import logging
import tracemalloc
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import respx

from airflow_provider_browserbase.exceptions import BrowserbaseError, BrowserbaseValidationError
from tests.hooks.hook_helpers import API_KEY
from tests.support import memory_store

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
    from tests.hooks.hook_helpers import FakeClock, ScriptedApi

PATH = "/v1/sessions/s-1/recording/downloads"
CDN = "https://cdn.test/rec"


def signed(page: str, n: int = 1) -> str:
    return f"{CDN}/s-1/{page}.mp4?sig=SECRET-SIG-{n}"


def page(page_id: str, status: str, url: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"pageId": page_id, "status": status}
    if url:
        entry |= {"completedAt": "2026-11-30T01:00:00Z", "downloadUrl": url}
    return entry


def answer(*pages: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"downloads": list(pages)})


NOT_REQUESTED = answer(page("0", "NOT_REQUESTED"), page("1", "NOT_REQUESTED"))
PENDING = answer(page("0", "PENDING"), page("1", "PENDING"))
DONE = answer(page("0", "COMPLETED", signed("0")), page("1", "COMPLETED", signed("1")))


@pytest.fixture
def cdn() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.get(url__startswith=f"{CDN}/s-1/0.mp4").respond(200, content=b"video zero")
        router.get(url__startswith=f"{CDN}/s-1/1.mp4").respond(200, content=b"video one")
        yield router


def test_requests_waits_then_streams_one_file_per_page(
    api: ScriptedApi, hook: BrowserbaseHook, clock: FakeClock, cdn: respx.MockRouter, tmp_path: Path
) -> None:
    api.on("GET", PATH, NOT_REQUESTED, PENDING, DONE)
    api.on("POST", PATH, PENDING)
    written = hook.download_recording("s-1", tmp_path / "videos", poll_interval=3)
    assert written == [tmp_path / "videos/s-1-page-0.mp4", tmp_path / "videos/s-1-page-1.mp4"]
    assert [p.read_bytes() for p in written] == [b"video zero", b"video one"]
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == ["s-1-page-0.mp4", "s-1-page-1.mp4"]
    assert [(r.method, r.url.path) for r in api.requests] == [
        ("GET", PATH),
        ("POST", PATH),
        ("GET", PATH),
        ("GET", PATH),
    ]
    assert clock.sleeps == [0.5]  # short first pauses, doubling up to poll_interval
    # The CDN gets no API key: the URL's signature is the credential.
    assert all("x-bb-api-key" not in call.request.headers for call in cdn.calls)


@pytest.mark.parametrize("as_url", [True, False], ids=["url", "ObjectStoragePath"])
def test_an_object_store_destination_is_written_there_not_to_a_local_folder(
    api: ScriptedApi, hook: BrowserbaseHook, cdn: respx.MockRouter, as_url: bool
) -> None:
    from pathlib import Path

    from airflow.sdk import ObjectStoragePath

    url, bucket = memory_store()
    api.on("GET", PATH, DONE)
    destination = f"{url}/videos"
    written = hook.download_recording("s-1", destination if as_url else ObjectStoragePath(destination))
    assert [str(p).rsplit("/", 3)[-3:] for p in written] == [
        [bucket, "videos", "s-1-page-0.mp4"],
        [bucket, "videos", "s-1-page-1.mp4"],
    ]
    assert all(str(p).startswith("memory://") for p in written)
    assert [p.read_bytes() for p in written] == [b"video zero", b"video one"]
    assert not Path("/", bucket).exists()


def test_pages_already_completed_are_not_requested_again(
    api: ScriptedApi, hook: BrowserbaseHook, cdn: respx.MockRouter, tmp_path: Path
) -> None:
    api.on("GET", PATH, DONE)
    hook.download_recording("s-1", str(tmp_path))
    assert not api.calls("POST")


def test_a_session_without_recorded_pages_gives_no_files(
    api: ScriptedApi,
    hook: BrowserbaseHook,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api.on("GET", PATH, answer())
    api.on("POST", PATH, answer())
    assert hook.download_recording("s-1", tmp_path) == []
    assert "no recorded pages" in caplog.text + capsys.readouterr().out


def test_a_failed_page_fails_naming_it(api: ScriptedApi, hook: BrowserbaseHook, tmp_path: Path) -> None:
    api.on("GET", PATH, NOT_REQUESTED, answer(page("0", "COMPLETED", signed("0")), page("1", "FAILED")))
    api.on("POST", PATH, PENDING)
    with pytest.raises(BrowserbaseError, match=r"session s-1, page\(s\) 1 \(FAILED"):
        hook.download_recording("s-1", tmp_path)
    assert not list(tmp_path.iterdir())


def test_gives_up_after_the_timeout_naming_the_pages_still_pending(
    api: ScriptedApi, hook: BrowserbaseHook, clock: FakeClock, tmp_path: Path
) -> None:
    api.on("GET", PATH, PENDING)
    api.on("POST", PATH, PENDING)
    with pytest.raises(BrowserbaseError, match=r"page\(s\) 0, 1 was not ready after 10 s"):
        hook.download_recording("s-1", tmp_path, timeout=10, poll_interval=4)
    assert clock.sleeps == [0.5, 1, 2, 4, 2.5]


def test_a_failed_transfer_is_retried_with_a_fresh_url_which_never_shows(
    api: ScriptedApi,
    hook: BrowserbaseHook,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fresh = answer(page("0", "COMPLETED", signed("0", 2)))
    first = answer(page("0", "COMPLETED", signed("0")))
    api.on("GET", PATH, first, first, fresh)
    caplog.set_level(logging.DEBUG)
    with respx.mock() as cdn:
        cdn.get(signed("0")).respond(403)
        cdn.get(signed("0", 2)).mock(
            side_effect=[httpx.ReadError("broken"), httpx.Response(200, content=b"v")]
        )
        (written,) = hook.download_recording("s-1", tmp_path)
    assert written.read_bytes() == b"v"
    assert [p.name for p in tmp_path.iterdir()] == ["s-1-page-0.mp4"]  # no partial file left
    logged = caplog.text + capsys.readouterr().out  # the hook logs through Airflow's structured logger
    assert "HTTP 403" in logged
    assert "the connection broke while reading the answer (ReadError)); retrying" in logged
    assert "SECRET-SIG" not in logged


def test_a_transfer_failing_every_time_fails_without_the_url(
    api: ScriptedApi, hook: BrowserbaseHook, tmp_path: Path
) -> None:
    api.on("GET", PATH, answer(page("0", "COMPLETED", signed("0"))))
    with respx.mock() as cdn:
        cdn.get(signed("0")).respond(410)
        with pytest.raises(BrowserbaseError) as raised:
            hook.download_recording("s-1", tmp_path)
    assert "page 0's recording failed: HTTP 410" in str(raised.value)
    assert "SECRET-SIG" not in str(raised.value)
    assert not list(tmp_path.iterdir())


def test_the_file_is_streamed_not_held_in_memory(
    api: ScriptedApi, hook: BrowserbaseHook, tmp_path: Path
) -> None:
    chunk = b"\0" * (1 << 20)
    api.on("GET", PATH, answer(page("0", "COMPLETED", signed("0"))))
    with respx.mock() as cdn:
        cdn.get(signed("0")).mock(side_effect=lambda _: httpx.Response(200, content=iter([chunk] * 40)))
        tracemalloc.start()
        try:
            (written,) = hook.download_recording("s-1", tmp_path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert written.stat().st_size == 40 << 20
    assert peak < 8 << 20


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"session_id": " "}, "session_id"),
        ({"destination": 42}, "destination"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_bad_input_fails_before_any_request(
    api: ScriptedApi, hook: BrowserbaseHook, tmp_path: Path, kwargs: dict[str, Any], field: str
) -> None:
    arguments: dict[str, Any] = {"session_id": "s-1", "destination": tmp_path} | kwargs
    with pytest.raises(BrowserbaseValidationError, match=field):
        hook.download_recording(arguments.pop("session_id"), arguments.pop("destination"), **arguments)
    assert not api.requests


def test_request_and_list_read_every_page(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("POST", PATH, PENDING)
    api.on("GET", PATH, DONE)
    assert [(d.page_id, d.status) for d in hook.request_recording("s-1")] == [
        ("0", "PENDING"),
        ("1", "PENDING"),
    ]
    listed = hook.list_recording_downloads("s-1")
    assert listed[0].is_completed
    assert listed[0].download_url == signed("0")
    assert "SECRET-SIG" not in repr(listed[0])
    assert api.requests[0].content == b""


def test_replays_and_a_page_playlist(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    pages = [
        {
            "pageId": "0",
            "startTimeMs": 1000,
            "endTimeMs": 5000,
            "url": "http://bb.test/v1/sessions/s-1/replays/0",
        }
    ]
    api.on("GET", "/v1/sessions/s-1/replays", httpx.Response(200, json={"pageCount": 1, "pages": pages}))
    api.on("GET", "/v1/sessions/s-1/replays/0", httpx.Response(200, text="#EXTM3U\n#EXT-X-ENDLIST\n"))
    replays = hook.get_replays("s-1")
    assert replays.page_count == 1
    assert (replays.pages[0].start_time_ms, replays.pages[0].end_time_ms) == (1000, 5000)
    assert hook.get_replay_playlist("s-1", "0").startswith("#EXTM3U")
    assert api.requests[-1].headers["Accept"] == "application/vnd.apple.mpegurl"
    with pytest.raises(BrowserbaseValidationError, match="page_id"):
        hook.get_replay_playlist("s-1", "")


def test_list_is_retried_like_a_read(api: ScriptedApi, hook: BrowserbaseHook, clock: FakeClock) -> None:
    api.on("GET", PATH, httpx.Response(503), DONE)
    assert len(hook.list_recording_downloads("s-1")) == 2
    assert len(clock.sleeps) == 1


async def test_async_twin_downloads_in_a_thread(
    api: ScriptedApi, hook: BrowserbaseHook, cdn: respx.MockRouter, tmp_path: Path
) -> None:
    api.on("GET", PATH, NOT_REQUESTED, DONE)
    api.on("POST", PATH, PENDING)
    written = await hook.adownload_recording("s-1", tmp_path)
    assert [p.read_bytes() for p in written] == [b"video zero", b"video one"]


def test_api_key_never_sent_to_the_cdn_even_when_it_redirects(
    api: ScriptedApi, hook: BrowserbaseHook, tmp_path: Path
) -> None:
    api.on("GET", PATH, answer(page("0", "COMPLETED", signed("0"))))
    with respx.mock() as cdn:
        cdn.get(signed("0")).respond(302, headers={"Location": "https://store.test/blob"})
        blob = cdn.get("https://store.test/blob").respond(200, content=b"v")
        hook.download_recording("s-1", tmp_path)
    assert API_KEY not in str(blob.calls[0].request.headers)
