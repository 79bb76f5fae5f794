"""Operator that saves a session's video recording (one MP4 per page) to a folder or object storage."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_browserbase._lineage import operator_lineage, path_dataset_id
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.operators._recording import RECORDING_TIMEOUT

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context, ObjectStoragePath, XComArg


class BrowserbaseSessionRecordingOperator(BaseOperator):
    """
    Save a session's video: one MP4 per recorded page (tab), written to a folder or any object storage.

    Browserbase records every session unless it was created with ``recordSession: false``. The operator
    asks Browserbase to assemble the MP4s, waits until each page's is ready (``timeout``), and streams
    each to ``<destination>/<session id>-page-<page id>.mp4``. Run it after the session ended (e.g.
    downstream of the task that ended it, with ``trigger_rule="all_done"`` to keep the video of a failed
    run); a session still running is ended first when ``end_session=True``, since its video is finished
    only then. Returns the written paths as strings (an empty list for a session without recording).
    With the OpenLineage provider installed, the task reports the written files as output datasets.

    :param session_id: the session (templated; an ``XComArg`` such as ``create.output["session_id"]``).
    :param destination: a local folder or an ``ObjectStoragePath`` / URL such as ``s3://bucket/videos``
        (templated); created if missing.
    :param timeout: seconds to wait for Browserbase to assemble the videos.
    :param poll_interval: seconds between two status checks.
    :param end_session: end a session that is still running first (its release is requested and awaited).
    :param browserbase_conn_id: the Browserbase connection (templated).
    """

    template_fields: Sequence[str] = ("session_id", "destination", "browserbase_conn_id")
    ui_color = "#f4e3ff"

    def __init__(
        self,
        *,
        session_id: str | XComArg,
        destination: str | ObjectStoragePath,
        timeout: float = RECORDING_TIMEOUT,
        poll_interval: float = 2.0,
        end_session: bool = False,
        browserbase_conn_id: str = BrowserbaseHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if timeout <= 0:
            raise ValueError(f"timeout must be greater than 0; got {timeout!r}")
        # An XComArg is resolved to its value when the task's templates are rendered, before execute.
        self.session_id = cast("str", session_id)
        self.destination = destination
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.end_session = end_session
        self.browserbase_conn_id = browserbase_conn_id
        self._written: list[ObjectStoragePath] = []

    @cached_property
    def hook(self) -> BrowserbaseHook:
        return BrowserbaseHook(self.browserbase_conn_id)

    def execute(self, context: Context) -> list[str]:
        from airflow.sdk import ObjectStoragePath

        if self.end_session:
            self.hook.end_session(self.session_id, wait=True)
        written = self.hook.download_recording(
            self.session_id,
            ObjectStoragePath(self.destination),
            timeout=self.timeout,
            poll_interval=self.poll_interval,
        )
        self._written = list(written)
        for path in written:
            self.log.info("Saved the recording of Browserbase session %s: %s", self.session_id, path)
        if not written:
            self.log.info("Browserbase session %s has no recorded pages", self.session_id)
        return [str(path) for path in written]

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The video files the task wrote, as OpenLineage output datasets."""
        return operator_lineage(outputs=[path_dataset_id(path) for path in self._written])

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage:
        """No datasets: the failures (no video in time, an API or transfer error) leave no partial file."""
        return operator_lineage()
