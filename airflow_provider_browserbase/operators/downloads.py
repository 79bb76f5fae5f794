"""Operator that copies a session's downloaded files to a folder or object storage."""

from __future__ import annotations

import io
import posixpath
import zipfile
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_browserbase.exceptions import BrowserbaseError
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context, ObjectStoragePath


def _safe_member_name(name: str) -> str | None:
    """The member's relative path, or ``None`` for a folder entry; refuses names escaping the folder."""
    if name.endswith("/"):
        return None
    normalized = posixpath.normpath(name.replace("\\", "/"))
    if normalized.startswith(("/", "../")) or normalized in ("..", ".") or ":" in normalized.split("/")[0]:
        raise BrowserbaseError(f"Refusing to write a downloaded file named {name!r} outside the destination")
    return normalized


class BrowserbaseDownloadsOperator(BaseOperator):
    """
    Wait for a session's downloads and write the files to a folder or any object storage.

    Browserbase syncs files downloaded in the session's browser asynchronously, so the operator polls until
    at least ``min_files`` files are available (or ``timeout`` seconds pass). File names carry the
    service's timestamp suffix (``report-1719265797164.pdf``). Returns the written paths as strings.

    :param session_id: the session whose downloads to fetch (templated).
    :param destination: a local folder or an ``ObjectStoragePath`` / URL such as ``s3://bucket/prefix``
        (templated); created if missing.
    :param timeout: seconds to wait for the downloads.
    :param min_files: how many files to wait for.
    :param poll_interval: seconds between two checks.
    :param browserbase_conn_id: the Browserbase connection.
    """

    template_fields: Sequence[str] = ("session_id", "destination")
    ui_color = "#f4e3ff"

    def __init__(
        self,
        *,
        session_id: str,
        destination: str | ObjectStoragePath,
        timeout: float = 60.0,
        min_files: int = 1,
        poll_interval: float = 2.0,
        browserbase_conn_id: str = BrowserbaseHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.session_id = session_id
        self.destination = destination
        self.timeout = timeout
        self.min_files = min_files
        self.poll_interval = poll_interval
        self.browserbase_conn_id = browserbase_conn_id

    @cached_property
    def hook(self) -> BrowserbaseHook:
        return BrowserbaseHook(self.browserbase_conn_id)

    def execute(self, context: Context) -> list[str]:
        from airflow.sdk import ObjectStoragePath

        archive = self.hook.wait_for_downloads(
            self.session_id, timeout=self.timeout, poll_interval=self.poll_interval, min_files=self.min_files
        )
        destination = ObjectStoragePath(self.destination)
        written: list[str] = []
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            for member in bundle.infolist():
                name = _safe_member_name(member.filename)
                if name is None:
                    continue
                target = destination / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(bundle.read(member))
                self.log.info("Wrote %s (%d bytes)", target, member.file_size)
                written.append(str(target))
        return written
