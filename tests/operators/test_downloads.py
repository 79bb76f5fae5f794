"""``BrowserbaseDownloadsOperator``: waits for the zip and writes it with the hook's one safe extractor."""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from support import connection_uri_env, memory_store

from airflow_provider_browserbase.exceptions import BrowserbaseError
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.operators.downloads import BrowserbaseDownloadsOperator

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def operator_answering(
    zip_bytes: bytes, monkeypatch: pytest.MonkeyPatch, **kwargs: Any
) -> tuple[Any, list[str]]:
    """The operator, its hook answering every downloads request with ``zip_bytes``; the paths it asked."""
    monkeypatch.setenv("AIRFLOW_CONN_BB_DOWNLOADS", connection_uri_env("http://bb.test", "bb_key"))
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, content=zip_bytes)

    task = BrowserbaseDownloadsOperator(task_id="save", browserbase_conn_id="bb_downloads", **kwargs)
    task.__dict__["hook"] = BrowserbaseHook("bb_downloads", transport=httpx.MockTransport(handler))
    return task, asked


def test_writes_every_file_keeping_sub_folders(
    tmp_path: Path, make_context: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"a-1719265797164.csv": b"a,b\n", "nested/b-1719265797165.pdf": b"%PDF"}
    task, asked = operator_answering(
        archive(files),
        monkeypatch,
        session_id="{{ params.sid }}",
        destination="{{ params.out }}",
        min_files=2,
        timeout=5,
    )
    task.render_template_fields({"params": {"sid": "sess-1", "out": str(tmp_path / "out")}})
    written = task.execute(make_context())
    assert asked == ["/v1/sessions/sess-1/downloads"]
    assert sorted(written) == sorted(str(tmp_path / "out" / name) for name in files)
    for name, data in files.items():
        assert (tmp_path / "out" / name).read_bytes() == data


def test_writes_to_an_object_storage_url(
    tmp_path: Path, make_context: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    task, _ = operator_answering(
        archive({"r.txt": b"hi"}), monkeypatch, session_id="s", destination=f"file://{tmp_path}/store"
    )
    (written,) = task.execute(make_context())
    assert written.endswith("/store/r.txt")
    assert (tmp_path / "store" / "r.txt").read_bytes() == b"hi"


def test_an_object_store_destination_is_written_there_not_to_a_local_folder(
    make_context: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under Airflow 3.1 an ObjectStoragePath is also a pathlib.Path: s3://bucket/prefix was written to the
    # local folder /bucket/prefix.
    from pathlib import Path

    from airflow.sdk import ObjectStoragePath

    url, bucket = memory_store()
    zipped = archive({"r.txt": b"hi"})
    task, _ = operator_answering(zipped, monkeypatch, session_id="s", destination=f"{url}/out")
    (written,) = task.execute(make_context())
    assert written.startswith("memory://")
    assert written.endswith(f"{bucket}/out/r.txt")
    assert ObjectStoragePath(written).read_bytes() == b"hi"
    assert not Path("/", bucket).exists()


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/escape.txt", "a/../../escape.txt", "C:/escape.txt"])
def test_refuses_names_that_escape_the_destination(
    tmp_path: Path, make_context: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    task, _ = operator_answering(
        archive({"fine.txt": b"ok", name: b"x"}),
        monkeypatch,
        session_id="s",
        destination=str(tmp_path / "out"),
    )
    with pytest.raises(BrowserbaseError, match="Refusing to extract the downloads archive"):
        task.execute(make_context())
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "out").exists()  # checked before anything is written


def test_the_size_cap_is_an_argument(
    tmp_path: Path, make_context: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    task, _ = operator_answering(
        archive({"big.bin": bytes(2 * 2**20)}),
        monkeypatch,
        session_id="s",
        destination=str(tmp_path / "out"),
        max_total_bytes=2**20,
    )
    with pytest.raises(BrowserbaseError, match=r"more than max_total_bytes=1048576 \(raise max_total_bytes"):
        task.execute(make_context())
    assert not (tmp_path / "out").exists()
