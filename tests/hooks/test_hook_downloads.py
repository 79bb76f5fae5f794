"""Downloads: polling while the zip is empty, safe extraction, zip-slip refusal."""

from __future__ import annotations

import io
import stat
import zipfile
from typing import TYPE_CHECKING

import httpx
import pytest

from airflow_provider_browserbase.exceptions import BrowserbaseError
from airflow_provider_browserbase.hooks._downloads import EMPTY_ZIP_SIZE, count_files, extract_files

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
    from tests.hooks.conftest import FakeClock, ScriptedApi

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
