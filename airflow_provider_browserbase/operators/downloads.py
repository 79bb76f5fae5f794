"""Operator that copies a session's downloaded files to a folder or object storage."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_browserbase._lineage import operator_lineage, path_dataset_id
from airflow_provider_browserbase.hooks._downloads import DEFAULT_MAX_FILES, DEFAULT_MAX_TOTAL_BYTES
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context, ObjectStoragePath, XComArg


class BrowserbaseDownloadsOperator(BaseOperator):
    """
    Wait for a session's downloads and write the files to a folder or any object storage.

    Browserbase syncs files downloaded in the session's browser asynchronously, so the operator polls until
    at least ``min_files`` files are available (or ``timeout`` seconds pass). File names carry the
    service's timestamp suffix (``report-1719265797164.pdf``). Returns the written paths as strings. With
    the OpenLineage provider installed, the task reports the written files as output datasets.

    :param session_id: the session whose downloads to fetch (templated).
    :param destination: a local folder or an ``ObjectStoragePath`` / URL such as ``s3://bucket/prefix``
        (templated); created if missing.
    :param timeout: seconds to wait for the downloads.
    :param min_files: how many files to wait for.
    :param poll_interval: seconds between two checks.
    :param max_total_bytes: the most bytes the files may unpack to in all (100 MiB by default); an archive
        that unpacks to more fails the task, and what was written of it is removed.
    :param max_files: the most files the archive may hold (1000 by default).
    :param browserbase_conn_id: the Browserbase connection (templated).
    """

    template_fields: Sequence[str] = ("session_id", "destination", "browserbase_conn_id")
    ui_color = "#f4e3ff"

    def __init__(
        self,
        *,
        session_id: str | XComArg,
        destination: str | ObjectStoragePath,
        timeout: float = 60.0,
        min_files: int = 1,
        poll_interval: float = 2.0,
        max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
        max_files: int = DEFAULT_MAX_FILES,
        browserbase_conn_id: str = BrowserbaseHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # An XComArg is resolved to its value when the task's templates are rendered, before execute.
        self.session_id = cast("str", session_id)
        self.destination = destination
        self.timeout = timeout
        self.min_files = min_files
        self.poll_interval = poll_interval
        self.max_total_bytes = max_total_bytes
        self.max_files = max_files
        self.browserbase_conn_id = browserbase_conn_id
        self._written: list[ObjectStoragePath] = []

    @cached_property
    def hook(self) -> BrowserbaseHook:
        return BrowserbaseHook(self.browserbase_conn_id)

    def execute(self, context: Context) -> list[str]:
        from airflow.sdk import ObjectStoragePath

        # The hook's extractor: unsafe names, symbolic links and zip bombs are refused before or while
        # writing, for a local folder and object storage alike.
        written = self.hook.download_files(
            self.session_id,
            ObjectStoragePath(self.destination),
            timeout=self.timeout,
            poll_interval=self.poll_interval,
            min_files=self.min_files,
            max_total_bytes=self.max_total_bytes,
            max_files=self.max_files,
        )
        self._written = list(written)
        for path in written:
            self.log.info("Wrote %s", path)
        return [str(path) for path in written]

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The files the task wrote, as OpenLineage output datasets (from each ``ObjectStoragePath``)."""
        return operator_lineage(outputs=[path_dataset_id(path) for path in self._written])

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage:
        """
        No datasets: a failed download wrote nothing that stays.

        The hook removes what it wrote of an archive it refuses, and the other failures (no files in
        time, an API error) happen before any file is written.
        """
        return operator_lineage()
