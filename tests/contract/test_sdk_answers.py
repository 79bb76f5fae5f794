"""
``browserbase-local`` answers every endpoint both sides implement in a shape Browserbase's official SDK
accepts with strict validation, and the hook reads those answers into the same values the SDK does.
"""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from browserbase import Browserbase
    from pydantic import BaseModel

    from airflow_provider_browserbase.local.server import LocalServer


def extension_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", '{"manifest_version": 3, "name": "contract", "version": "1.0"}')
    return buffer.getvalue()


def assert_agrees(ours: BaseModel, theirs: Any) -> None:
    """Every field the SDK read is read by our model under the same wire name, with the same value."""
    sdk_json = theirs.to_dict(mode="json", exclude_none=True)
    our_json = ours.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert sdk_json, theirs
    for name, value in sdk_json.items():
        assert name in our_json, f"{type(ours).__name__} does not read {name!r}"
        assert our_json[name] == value, (name, our_json[name], value)


@pytest.fixture
def hook(contract_conn: str) -> Iterator[BrowserbaseHook]:
    with BrowserbaseHook(contract_conn, max_retries=0) as hook:
        yield hook


def test_sessions(sdk: Browserbase, hook: BrowserbaseHook) -> None:
    created = sdk.sessions.create(
        user_metadata={"contract": {"run": "sessions"}}, browser_settings={"viewport": {"width": 800}}
    )
    ours_created = hook.create_session(user_metadata={"contract": {"run": "sessions-hook"}})
    try:
        # Two creates, so the values differ: the hook's answer must carry every field the SDK requires.
        ours_json = ours_created.model_dump(mode="json", by_alias=True)
        for name in created.to_dict(mode="json"):
            assert ours_json.get(name) is not None or name in ("endedAt", "contextId"), name

        assert_agrees(hook.get_session(created.id), sdk.sessions.retrieve(created.id))
        # Status polls drop the credentials unread (see get_session_status): compare the rest.
        status = hook.get_session_status(created.id)
        retrieved = sdk.sessions.retrieve(created.id)
        retrieved.connect_url = retrieved.selenium_remote_url = retrieved.signing_key = None
        assert_agrees(status, retrieved)

        query = "user_metadata['contract']['run']:'sessions'"
        (listed,) = sdk.sessions.list(q=query, status="RUNNING")
        (ours_listed,) = hook.list_sessions(status="RUNNING", q=query)
        assert_agrees(ours_listed, listed)

        live = sdk.sessions.debug(created.id)
        assert_agrees(hook.get_live_urls(created.id), live)
        assert sdk.sessions.logs.list(created.id) == []
        assert hook.get_session_logs(created.id) == []
        with pytest.warns(DeprecationWarning, match="deprecated"):
            assert sdk.sessions.recording.retrieve(created.id) == []
        assert hook.get_session_recording(created.id) == []

        uploaded = sdk.sessions.uploads.create(created.id, file=("contract.txt", b"sdk"))
        assert_agrees(hook.upload_file(created.id, b"hook", "contract-hook.txt"), uploaded)

        empty = sdk.sessions.downloads.list(created.id).read()
        assert empty == hook.get_downloads_zip(created.id)
        assert len(empty) == 22

        sdk.sessions.replays.retrieve(created.id)
        sdk.sessions.recording.downloads.create(created.id)
        sdk.sessions.recording.downloads.list(created.id)
    finally:
        released = sdk.sessions.update(created.id, status="REQUEST_RELEASE")
        hook.end_session(ours_created.id)
    assert released.status == "COMPLETED"
    assert_agrees(hook.get_session(created.id), sdk.sessions.retrieve(created.id))


def test_contexts(sdk: Browserbase, hook: BrowserbaseHook) -> None:
    created = sdk.contexts.create(name="contract-sdk")
    ours_created = hook.create_context(name="contract-hook")
    ours_json = ours_created.model_dump(mode="json", by_alias=True)
    assert set(created.to_dict(mode="json")) <= {k for k, v in ours_json.items() if v is not None}
    assert_agrees(hook.get_context(created.id), sdk.contexts.retrieve(created.id))
    with pytest.warns(DeprecationWarning, match="deprecated"):
        sdk.contexts.update(created.id)
    assert sdk.contexts.delete(created.id) is None
    hook.delete_context(ours_created.id)


def test_extensions(sdk: Browserbase, hook: BrowserbaseHook) -> None:
    created = sdk.extensions.create(file=("contract.zip", extension_zip()))
    ours_created = hook.upload_extension(extension_zip(), "contract-hook.zip")
    assert set(created.to_dict(mode="json")) <= set(ours_created.model_dump(by_alias=True, exclude_none=True))
    assert_agrees(hook.get_extension(created.id), sdk.extensions.retrieve(created.id))
    assert sdk.extensions.delete(created.id) is None
    hook.delete_extension(ours_created.id)


def test_projects(sdk: Browserbase, hook: BrowserbaseHook) -> None:
    (project,) = sdk.projects.list()
    (ours,) = hook.list_projects()
    assert_agrees(ours, project)
    assert_agrees(hook.get_project(project.id), sdk.projects.retrieve(project.id))
    assert_agrees(hook.get_project_usage(project.id), sdk.projects.usage(project.id))


@pytest.mark.parametrize("format", ["raw", "markdown"])
def test_fetch(format: str, sdk: Browserbase, hook: BrowserbaseHook, api_server: LocalServer) -> None:
    url = f"{api_server.base_url}/demo/products/BB-1002"
    fetched = sdk.fetch_api.create(url=url, format=format)  # type: ignore[arg-type]
    ours = hook.fetch(url, format=format)
    assert fetched.status_code == 200
    assert "Brass desk lamp" in str(fetched.content)
    # Two fetches: ids, dates and request ids differ, the rest must agree.
    assert set(fetched.headers) == set(ours.headers)
    fetched.id, fetched.headers = ours.id, ours.headers
    assert_agrees(ours, fetched)


def test_search(sdk: Browserbase, hook: BrowserbaseHook) -> None:
    found = sdk.search.web(query="desk lamp", num_results=5)
    ours = hook.search("desk lamp", num_results=5)
    assert found.results
    assert found.results[0].title == "Brass desk lamp"
    found.request_id = ours.request_id
    assert_agrees(ours, found)
    for theirs, mine in zip(found.results, ours.results, strict=True):
        assert_agrees(mine, theirs)


@pytest.mark.browser
def test_live_urls_and_logs_of_a_real_browser(browser_sdk: Browserbase, local_server: LocalServer) -> None:
    from playwright.sync_api import sync_playwright

    created = browser_sdk.sessions.create(keep_alive=True)
    hook = BrowserbaseHook(max_retries=0)  # browserbase_default points at local_server
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.connect_over_cdp(created.connect_url)
            page = browser.contexts[0].pages[0]
            page.goto(f"{local_server.base_url}/health")
            live = browser_sdk.sessions.debug(created.id)
            assert live.pages, "a live browser has at least one page"
            assert_agrees(hook.get_live_urls(created.id), live)
            browser.close()
        logs = browser_sdk.sessions.logs.list(created.id)
        assert logs
        ours = hook.get_session_logs(created.id)
        for theirs, mine in zip(logs, ours, strict=True):
            assert_agrees(mine, theirs)
    finally:
        hook.end_session(created.id)
        hook.close()


@pytest.mark.browser
def test_recording_downloads_and_replays_of_a_real_browser(
    browser_sdk: Browserbase, local_server: LocalServer, tmp_path: Path
) -> None:
    import time

    from playwright.sync_api import sync_playwright

    created = browser_sdk.sessions.create()
    hook = BrowserbaseHook(max_retries=0)  # browserbase_default points at local_server
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.connect_over_cdp(created.connect_url)
            browser.contexts[0].pages[0].goto(f"{local_server.base_url}/demo/")
            browser.close()
        assert hook.end_session(created.id, wait=True, wait_timeout=30) is not None

        assert_agrees(hook.get_replays(created.id), browser_sdk.sessions.replays.retrieve(created.id))
        not_requested = browser_sdk.sessions.recording.downloads.list(created.id)
        assert [d.status for d in not_requested.downloads] == ["NOT_REQUESTED"]
        requested = browser_sdk.sessions.recording.downloads.create(created.id)
        assert [d.status for d in requested.downloads] == ["PENDING"]
        deadline = time.monotonic() + 60
        while (listed := browser_sdk.sessions.recording.downloads.list(created.id)).downloads[0].status != (
            "COMPLETED"
        ) and time.monotonic() < deadline:
            time.sleep(0.2)
        (theirs,) = listed.downloads
        assert theirs.completed_at is not None
        assert theirs.download_url
        (ours,) = hook.list_recording_downloads(created.id)
        ours.download_url = theirs.download_url  # re-minted on every answer
        assert_agrees(ours, theirs)
        playlist = browser_sdk.sessions.replays.retrieve_page("0", id=created.id).text()
        assert playlist.startswith("#EXTM3U")
        assert hook.get_replay_playlist(created.id, "0").splitlines()[:5] == playlist.splitlines()[:5]
        (written,) = hook.download_recording(created.id, tmp_path)
        assert written.read_bytes()[4:8] == b"ftyp"  # an MP4
    finally:
        hook.end_session(created.id)
        hook.close()
