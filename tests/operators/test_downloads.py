from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

from airflow_provider_browserbase.exceptions import BrowserbaseError
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.operators.downloads import BrowserbaseDownloadsOperator

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def test_writes_every_file_keeping_sub_folders(
    tmp_path: Path, make_context: Callable[..., dict[str, Any]]
) -> None:
    task = BrowserbaseDownloadsOperator(
        task_id="save", session_id="{{ params.sid }}", destination="{{ params.out }}", min_files=2, timeout=5
    )
    task.render_template_fields({"params": {"sid": "sess-1", "out": str(tmp_path / "out")}})
    files = {"a-1719265797164.csv": b"a,b\n", "nested/b-1719265797165.pdf": b"%PDF"}
    with mock.patch.object(BrowserbaseHook, "wait_for_downloads", return_value=archive(files)) as wait:
        written = task.execute(make_context())
    wait.assert_called_once_with("sess-1", timeout=5, poll_interval=2.0, min_files=2)
    assert sorted(written) == sorted(str(tmp_path / "out" / name) for name in files)
    for name, data in files.items():
        assert (tmp_path / "out" / name).read_bytes() == data


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/escape.txt", "a/../../escape.txt", "C:/escape.txt"])
def test_refuses_names_that_escape_the_destination(
    tmp_path: Path, make_context: Callable[..., dict[str, Any]], name: str
) -> None:
    task = BrowserbaseDownloadsOperator(task_id="save", session_id="s", destination=str(tmp_path / "out"))
    with (
        mock.patch.object(BrowserbaseHook, "wait_for_downloads", return_value=archive({name: b"x"})),
        pytest.raises(BrowserbaseError, match="outside the destination"),
    ):
        task.execute(make_context())
    assert not (tmp_path / "escape.txt").exists()
