"""A signing key stays inside its session: downloads, uploads and file: URLs never reach host paths."""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import TYPE_CHECKING

import pytest
import websockets.sync.client
from browser_helpers import answer, cdp, new_session, release

from airflow_provider_browserbase.local.cdp_rules import (
    CommandRefusedError,
    SessionFiles,
    apply_rules,
    is_local_url,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import httpx
    from playwright.sync_api import Playwright

    from airflow_provider_browserbase.local.server import LocalServer

pytestmark = pytest.mark.browser
pytest_plugins = ["browser_helpers"]

LOCAL_URLS = [
    "file:///etc/hostname",
    "FILE:///etc/hostname",
    "  file:///etc/hostname",
    "fi\tle:///etc/hostname",
    "file:/etc/hostname",
    "view-source:file:///etc/hostname",
    "view-source: view-source:file:///etc/hostname",
    "filesystem:file:///tmp/x",
    "/etc/hostname",  # Target.createTarget turns a bare path into file:///etc/hostname
]


def _zip_names(browser_api: httpx.Client, session_id: str) -> list[str]:
    return zipfile.ZipFile(
        io.BytesIO(browser_api.get(f"/v1/sessions/{session_id}/downloads").content)
    ).namelist()


def _directory(browser_server: LocalServer, session_id: str) -> Path:
    return browser_server.app.state.registry.sessions[session_id].directory


@pytest.mark.parametrize("url", LOCAL_URLS)
def test_every_spelling_of_a_file_url_counts_as_local(url: str) -> None:
    assert is_local_url(url)


@pytest.mark.parametrize(
    "url", ["https://example.com/", "about:blank", "data:text/html,x", "", "http://x/file:"]
)
def test_web_urls_are_not_local(url: str) -> None:
    assert not is_local_url(url)


def test_file_urls_are_refused_through_the_proxy(
    browser_api: httpx.Client, browser_server: LocalServer
) -> None:
    created = new_session(browser_api)
    try:
        with websockets.sync.client.connect(created["connectUrl"], max_size=None) as ws:
            page = next(
                t for t in cdp(ws, 1, "Target.getTargets")["result"]["targetInfos"] if t["type"] == "page"
            )
            own = cdp(ws, 2, "Target.attachToTarget", targetId=page["targetId"], flatten=True)["result"]
            call = 10
            for url in LOCAL_URLS:
                for method, params in (
                    ("Page.navigate", {"url": url, "sessionId": own["sessionId"]}),
                    ("Target.createTarget", {"url": url}),
                    (
                        "Network.loadNetworkResource",
                        {
                            "url": url,
                            "frameId": page["targetId"],
                            "options": {"disableCache": True, "includeCredentials": False},
                            "sessionId": own["sessionId"],
                        },
                    ),
                ):
                    call += 1
                    refused = cdp(ws, call, method, **params)
                    assert "result" not in refused, (method, url, refused)
                    assert "--allow-file-urls" in refused["error"]["message"]
            # The old, non-flat way wraps the command in a string: the same rule applies inside.
            inner = '{"id": 1, "method": "Page.navigate", "params": {"url": "file:///etc/hostname"}}'
            params = {"message": inner, "sessionId": own["sessionId"]}
            ws.send(json.dumps({"id": 99, "method": "Target.sendMessageToTarget", "params": params}))
            assert "--allow-file-urls" in answer(ws, 99)["error"]["message"]
            # A key given twice: the server forwards what it checked, never the client's own text.
            ws.send(
                '{"id": 101, "method": "Target.createTarget", "params": {"url": "file:///etc/hostname"}, '
                '"params": {"url": "about:blank#second"}}'
            )
            assert "targetId" in answer(ws, 101)["result"]
            targets = cdp(ws, 100, "Target.getTargets")["result"]["targetInfos"]
            assert not [t for t in targets if t["url"].startswith("file:")]
    finally:
        release(browser_api, created["id"])


def test_file_urls_load_only_with_allow_file_urls(make_allowing_server: LocalServer) -> None:
    from local_helpers import client

    with client(make_allowing_server) as http:
        created = new_session(http)
        try:
            with websockets.sync.client.connect(created["connectUrl"], max_size=None) as ws:
                made = cdp(ws, 1, "Target.createTarget", url="file:///etc/hostname")
                assert "targetId" in made["result"], made
        finally:
            release(http, created["id"])


@pytest.fixture
def make_allowing_server() -> Iterator[LocalServer]:
    from local_helpers import start_server

    running = start_server(max_sessions=1, allow_file_urls=True)
    try:
        yield running
    finally:
        running.stop()


def test_download_paths_always_land_in_the_sessions_own_folder(
    browser_api: httpx.Client, pw: Playwright, browser_server: LocalServer, tmp_path: Path
) -> None:
    victim = new_session(browser_api)
    attacker = new_session(browser_api)
    victim_downloads = _directory(browser_server, victim["id"]) / "downloads"
    browser = pw.chromium.connect_over_cdp(attacker["connectUrl"])
    try:
        host_folder = tmp_path / "host-folder"
        host_folder.mkdir()
        page = browser.contexts[0].pages[0]
        page.goto(f"{browser_server.base_url}/site/")
        cdp_session = browser.new_browser_cdp_session()
        for folder in (victim_downloads, host_folder):
            for behavior in ("allow", "allowAndName"):
                cdp_session.send(
                    "Browser.setDownloadBehavior",
                    {"behavior": behavior, "downloadPath": str(folder), "eventsEnabled": True},
                )
                with page.expect_download() as info:
                    page.click("#download")
                assert info.value.failure() is None
        deadline = time.monotonic() + 15
        while not _zip_names(browser_api, attacker["id"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        # Chromium writes each same-named download over the last: the file is there, once.
        assert [name.split("-")[0] for name in _zip_names(browser_api, attacker["id"])] == ["report"]
        assert _zip_names(browser_api, victim["id"]) == []
        assert list(victim_downloads.iterdir()) == []
        assert list(host_folder.iterdir()) == []
    finally:
        browser.close()
        release(browser_api, attacker["id"])
        release(browser_api, victim["id"])


def test_file_inputs_take_only_the_sessions_own_uploads(
    browser_api: httpx.Client, pw: Playwright, browser_server: LocalServer
) -> None:
    victim = new_session(browser_api)
    attacker = new_session(browser_api)
    for session in (victim, attacker):
        uploaded = browser_api.post(
            f"/v1/sessions/{session['id']}/uploads", files={"file": ("mine.txt", session["id"].encode())}
        )
        assert uploaded.status_code == 200
    victim_file = _directory(browser_server, victim["id"]) / "uploads" / "mine.txt"
    browser = pw.chromium.connect_over_cdp(attacker["connectUrl"])
    try:
        page = browser.contexts[0].pages[0]
        page.goto(f"{browser_server.base_url}/site/")
        session = browser.contexts[0].new_cdp_session(page)
        root = session.send("DOM.getDocument")["root"]["nodeId"]
        node = session.send("DOM.querySelector", {"nodeId": root, "selector": "#file"})["nodeId"]
        for path in (
            str(victim_file),
            "/etc/hostname",
            "/tmp/.uploads/../../etc/hostname",
            f"/tmp/.uploads/../../{victim_file.parent.parent.name}/uploads/mine.txt",
            str(_directory(browser_server, attacker["id"]) / "uploads"),
        ):
            with pytest.raises(Exception, match=r"not one of this session's uploads"):
                session.send("DOM.setFileInputFiles", {"nodeId": node, "files": [path]})
        assert page.evaluate("document.querySelector('#file').files.length") == 0
        # Its own upload, by the documented path, still works.
        session.send("DOM.setFileInputFiles", {"nodeId": node, "files": ["/tmp/.uploads/mine.txt"]})
        got = page.evaluate("async () => await document.querySelector('#file').files[0].text()")
        assert got == attacker["id"]
    finally:
        browser.close()
        release(browser_api, attacker["id"])
        release(browser_api, victim["id"])


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ({"method": "Extensions.loadUnpacked", "params": {"path": "/tmp"}}, "POST /v1/extensions"),
        (
            {"method": "PWA.launchFilesInApp", "params": {"manifestId": "x", "files": ["/etc/hostname"]}},
            "host files",
        ),
        (
            {
                "method": "Input.dispatchDragEvent",
                "params": {"type": "drop", "x": 1, "y": 1, "data": {"items": [], "files": ["/etc/hostname"]}},
            },
            "not one of this session's uploads",
        ),
        ({"method": "Browser.setDownloadBehavior", "params": {"behavior": "sideways"}}, "behavior must be"),
        ({"method": "Target.exposeDevToolsProtocol", "params": {"targetId": "x"}}, "bypasses these rules"),
    ],
)
def test_other_path_bearing_commands_are_refused(message: dict, why: str, tmp_path: Path) -> None:
    (tmp_path / "uploads").mkdir()
    with pytest.raises(CommandRefusedError, match=why):
        apply_rules({"id": 1, **message}, SessionFiles(tmp_path))
