"""Values and helpers shared by test modules (import from here, never from ``conftest``: importing a
conftest under a second name would run its set-up twice)."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from playwright.sync_api import Playwright

    from airflow_provider_browserbase.local.server import LocalServer

TEST_API_KEY = "bb_test_key_for_the_suite"

T = TypeVar("T")


def task_instance_facts(dag_run: Any, fact: Callable[[Any], T]) -> list[T]:
    """``fact(ti)`` for every task instance of ``dag_run``, read fresh from the database (in its session)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id
            )
        ).all()
        return [fact(ti) for ti in rows]


def connection_uri_env(base_url: str, api_key: str, project_id: str | None = None) -> str:
    """The JSON form of a ``browserbase`` connection, for an ``AIRFLOW_CONN_*`` variable."""
    conn: dict[str, object] = {"conn_type": "browserbase", "host": base_url, "password": api_key}
    if project_id:
        conn["extra"] = {"project_id": project_id}
    return json.dumps(conn)


@contextmanager
def default_connection_to(server: LocalServer) -> Iterator[LocalServer]:
    """Point ``browserbase_default`` at ``server`` while the block runs (and restore what was there)."""
    previous = os.environ.get("AIRFLOW_CONN_BROWSERBASE_DEFAULT")
    os.environ["AIRFLOW_CONN_BROWSERBASE_DEFAULT"] = connection_uri_env(server.base_url, server.api_key)
    try:
        yield server
    finally:
        if previous is None:
            os.environ.pop("AIRFLOW_CONN_BROWSERBASE_DEFAULT", None)
        else:
            os.environ["AIRFLOW_CONN_BROWSERBASE_DEFAULT"] = previous


def chromium_pids(user_data_dir_prefix: str | Path | None = None) -> set[int]:
    """
    Live Chromium processes (zombies do not count), those whose ``--user-data-dir`` starts with
    ``user_data_dir_prefix`` if given, else every Chromium started with a ``--user-data-dir``.
    """
    marker = (
        f"--user-data-dir={user_data_dir_prefix}".encode() if user_data_dir_prefix else b"--user-data-dir"
    )
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z" or not cmdline or b"chrom" not in cmdline[0].rsplit(b"/", 1)[-1]:
            continue
        if any(arg.startswith(marker) for arg in cmdline):
            pids.add(int(entry.name))
    return pids


def probe_mp4(data: bytes) -> tuple[str, str, int, float]:
    """(container format, video codec, decoded frames, duration in s) of a video, read with PyAV (FFmpeg)."""
    import io

    import av

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        duration = container.duration / 1_000_000 if container.duration else 0.0
        return container.format.name, stream.codec_context.name, frames, duration


@contextmanager
def playwright_driver() -> Iterator[Playwright]:
    """
    ``sync_playwright()`` for a fixture, its driver's temp folders in a folder of its own, removed at the end.

    Playwright's driver makes a ``playwright-artifacts-*`` folder for every ``connect_over_cdp`` and removes
    it when that browser disconnects. A browser a test left connected, whose session the server ends as the
    module's fixtures stop, disconnects while the driver is stopping: the driver exits before its clean-up
    runs, and the folder stays (CI's leak check saw one, about one run in two). The driver is started with
    ``TMPDIR`` set to this folder, so whatever it could not remove goes with the folder.
    """
    import shutil
    import tempfile

    from playwright.sync_api import sync_playwright

    folder = tempfile.mkdtemp(prefix="pw-driver-")
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = folder  # read once, when the driver process starts
    try:
        manager = sync_playwright()
        playwright = manager.start()
    finally:
        if saved is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = saved
    try:
        yield playwright
    finally:
        try:
            playwright.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def memory_store() -> tuple[str, str]:
    """
    A new bucket of fsspec's in-memory file system, registered with Airflow: its URL and the bucket's name.

    An object store that is not the local disk (``file://`` paths land where a local folder would, so they
    cannot show a remote destination taken for a local one).
    """
    import uuid

    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    attach(protocol="memory", fs=MemoryFileSystem())
    bucket = f"bb-test-{uuid.uuid4().hex[:12]}"
    return f"memory://{bucket}", bucket


def private_artifacts_folders() -> list[str]:
    """The provider's own Playwright artifacts folders (``bb-playwright-*``) now in Python's temp folder."""
    import tempfile

    from airflow_provider_browserbase.operators._playwright_session import ARTIFACTS_DIR_PREFIX

    folder = Path(tempfile.gettempdir())
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(ARTIFACTS_DIR_PREFIX))
