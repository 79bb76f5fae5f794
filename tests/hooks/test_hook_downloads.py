"""Downloads: polling while the zip is empty, safe extraction, zip-slip refusal."""

from __future__ import annotations

import io
import stat
import tracemalloc
import zipfile
from typing import TYPE_CHECKING

import httpx
import pytest

from airflow_provider_browserbase.exceptions import BrowserbaseError
from airflow_provider_browserbase.hooks._downloads import EMPTY_ZIP_SIZE, count_files, extract_files

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
    from tests.hooks.hook_helpers import FakeClock, ScriptedApi

PATH = "/v1/sessions/s-1/downloads"


def make_zip(*entries: str | zipfile.ZipInfo, data: bytes = b"data") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for entry in entries:
            archive.writestr(entry, data)
    return buffer.getvalue()


EMPTY = make_zip()


def test_empty_zip_is_22_bytes_and_has_no_files() -> None:
    assert len(EMPTY) == EMPTY_ZIP_SIZE
    assert count_files(EMPTY) == 0
    assert count_files(make_zip("a/", "a/b.pdf", "c.txt")) == 2


def test_waits_while_the_zip_is_empty(api: ScriptedApi, hook: BrowserbaseHook, clock: FakeClock) -> None:
    ready = make_zip("report-1719265797164.pdf")
    api.on(
        "GET",
        PATH,
        httpx.Response(200, content=EMPTY),
        httpx.Response(200, content=EMPTY),
        httpx.Response(200, content=ready),
    )
    assert hook.wait_for_downloads("s-1", timeout=60, poll_interval=2) == ready
    assert clock.sleeps == [2, 2]
    assert all(r.headers["Accept"] == "application/zip" for r in api.requests)


def test_waits_for_min_files(api: ScriptedApi, hook: BrowserbaseHook, clock: FakeClock) -> None:
    api.on(
        "GET",
        PATH,
        httpx.Response(200, content=make_zip("a.txt")),
        httpx.Response(200, content=make_zip("a.txt", "b.txt")),
    )
    assert count_files(hook.wait_for_downloads("s-1", min_files=2)) == 2
    assert clock.sleeps == [2]


def test_gives_up_after_the_timeout(api: ScriptedApi, hook: BrowserbaseHook, clock: FakeClock) -> None:
    api.on("GET", PATH, httpx.Response(200, content=EMPTY))
    with pytest.raises(BrowserbaseError, match="had 0 downloaded file"):
        hook.wait_for_downloads("s-1", timeout=5, poll_interval=2)
    assert clock.sleeps == [2, 2, 1]
    assert len(api.requests) == 4


def test_download_files_extracts(api: ScriptedApi, hook: BrowserbaseHook, tmp_path: Path) -> None:
    api.on("GET", PATH, httpx.Response(200, content=make_zip("a.txt", "sub/b.csv", data=b"hello")))
    paths = hook.download_files("s-1", tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in paths) == ["a.txt", "sub/b.csv"]
    assert all(p.read_bytes() == b"hello" for p in paths)


async def test_async_download_files(
    api: ScriptedApi, hook: BrowserbaseHook, tmp_path: Path, clock: FakeClock
) -> None:
    api.on("GET", PATH, httpx.Response(200, content=EMPTY), httpx.Response(200, content=make_zip("a.txt")))
    paths = await hook.adownload_files("s-1", tmp_path)
    await hook.aclose()
    assert [p.name for p in paths] == ["a.txt"]
    assert clock.sleeps == [2]


def _symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    "entry",
    ["../evil.txt", "ok/../../evil.txt", "/etc/evil.txt", "C:/evil.txt", "..\\evil.txt", _symlink("link")],
    ids=str,
)
def test_zip_slip_is_refused_and_nothing_is_written(entry: str | zipfile.ZipInfo, tmp_path: Path) -> None:
    destination = tmp_path / "out"
    data = make_zip("first.txt", entry)
    with pytest.raises(BrowserbaseError, match="Refusing to extract"):
        extract_files(data, destination)
    assert not destination.exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == []


def zip_bomb(unpacked: int, declared: int | None = None) -> bytes:
    """A zip of one file of ``unpacked`` zero bytes (deflate packs ~1000:1); ``declared`` lies about it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        info = zipfile.ZipInfo("zeros.bin")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=False) as sink:
            block = bytes(1 << 20)
            for _ in range(unpacked // len(block)):
                sink.write(block)
    data = bytearray(buffer.getvalue())
    if declared is not None:
        # The central directory's "uncompressed size" (offset 24 of its entry) is what readers trust.
        central = data.rindex(b"PK\x01\x02")
        data[central + 24 : central + 28] = declared.to_bytes(4, "little")
    return bytes(data)


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    bomb = zip_bomb(200 * 2**20)
    assert len(bomb) < 300_000  # about 200 KB that would unpack to 200 MB
    tracemalloc.start()
    try:
        with pytest.raises(BrowserbaseError, match=r"unpacks to 209715200 bytes, more than max_total_bytes="):
            extract_files(bomb, tmp_path / "out")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20, peak
    assert not (tmp_path / "out").exists()


def test_an_archive_lying_about_its_sizes_fails_cleanly_and_leaves_nothing(tmp_path: Path) -> None:
    liar = zip_bomb(64 * 2**20, declared=10)
    tracemalloc.start()
    try:
        with pytest.raises(
            BrowserbaseError, match="Refusing to extract the downloads archive: it is corrupt"
        ):
            extract_files(liar, tmp_path / "out")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, peak  # streamed chunk by chunk, never the whole entry
    assert list((tmp_path / "out").rglob("*")) == []


def test_the_cap_holds_while_streaming_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_browserbase.hooks import _downloads

    # As if the declared sizes had passed: the running count alone must stop the extraction.
    monkeypatch.setattr(_downloads, "_check_entries", lambda *args: None)
    data = make_zip("a.txt", "b.txt", data=b"x" * (3 * 2**20))
    with pytest.raises(BrowserbaseError, match="more than max_total_bytes=4194304 bytes"):
        extract_files(data, tmp_path / "out", max_total_bytes=4 * 2**20)
    assert list((tmp_path / "out").rglob("*")) == []


def test_too_many_files_are_refused(tmp_path: Path) -> None:
    data = make_zip(*(f"f{n}.txt" for n in range(6)))
    with pytest.raises(BrowserbaseError, match="holds 6 files, more than max_files=5"):
        extract_files(data, tmp_path / "out", max_files=5)
    assert extract_files(data, tmp_path / "ok", max_files=6)


def test_download_files_passes_the_caps(api: ScriptedApi, hook: BrowserbaseHook, tmp_path: Path) -> None:
    api.on("GET", PATH, httpx.Response(200, content=make_zip("a.txt", data=b"x" * 100)))
    with pytest.raises(BrowserbaseError, match="max_total_bytes=99"):
        hook.download_files("s-1", tmp_path / "out", max_total_bytes=99)


async def test_the_old_async_name_still_works_with_a_deprecation_warning(
    api: ScriptedApi, hook: BrowserbaseHook
) -> None:
    from airflow.exceptions import AirflowProviderDeprecationWarning

    ready = make_zip("a.txt")
    api.on("GET", PATH, httpx.Response(200, content=ready))
    assert await hook.await_downloads("s-1") == ready
    with pytest.warns(AirflowProviderDeprecationWarning, match="use await_downloads"):
        assert await hook.await_for_downloads("s-1") == ready
    await hook.aclose()
