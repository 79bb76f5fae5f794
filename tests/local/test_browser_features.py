"""What a DAG does with a session's browser: pages, screenshots, PDFs, downloads, uploads, live view, logs."""

from __future__ import annotations

import io
import re
import time
import zipfile
from typing import TYPE_CHECKING

import pytest
import websockets.exceptions
import websockets.sync.client
from local_helpers import REPORT, browser_pid, wait_for_status

if TYPE_CHECKING:
    import httpx
    from playwright.sync_api import Browser, Playwright

pytestmark = pytest.mark.browser


@pytest.fixture
def session(api: httpx.Client):
    created = api.post("/v1/sessions", json={"timeout": 600}).json()
    yield created
    api.post(f"/v1/sessions/{created['id']}", json={"status": "REQUEST_RELEASE"})
    wait_for_status(api, created["id"], "COMPLETED")


@pytest.fixture
def browser(pw: Playwright, session) -> Browser:
    connected = pw.chromium.connect_over_cdp(session["connectUrl"])
    yield connected
    connected.close()


def test_pages_screenshots_and_pdf(browser: Browser, server) -> None:
    context = browser.contexts[0]
    pages = [context.pages[0], context.new_page(), context.new_page()]
    for index, page in enumerate(pages):
        page.goto(f"{server.base_url}/site/#page{index}")
    for page in pages:  # background tabs too: needs CDPScreenshotNewSurface
        png = page.screenshot()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert pages[0].screenshot(full_page=True).startswith(b"\x89PNG")
    pdf = pages[1].pdf()
    assert pdf.startswith(b"%PDF-")
    assert [p.url.rsplit("#", 1)[1] for p in context.pages] == ["page0", "page1", "page2"]


def test_download_with_relative_download_path_comes_back_in_zip(
    api: httpx.Client, browser: Browser, session, server
) -> None:
    empty = api.get(f"/v1/sessions/{session['id']}/downloads")
    assert empty.headers["content-type"] == "application/zip"
    assert len(empty.content) == 22
    assert zipfile.ZipFile(io.BytesIO(empty.content)).namelist() == []

    # The pattern of Browserbase's docs: a path relative to the remote browser.
    cdp = browser.new_browser_cdp_session()
    cdp.send(
        "Browser.setDownloadBehavior",
        {"behavior": "allow", "downloadPath": "downloads", "eventsEnabled": True},
    )
    page = browser.contexts[0].pages[0]
    page.goto(f"{server.base_url}/site/")
    page.click("#download")

    deadline = time.monotonic() + 15
    names: list[str] = []
    while time.monotonic() < deadline:
        archive = zipfile.ZipFile(io.BytesIO(api.get(f"/v1/sessions/{session['id']}/downloads").content))
        names = archive.namelist()
        if names:
            break
        time.sleep(0.2)
    assert len(names) == 1, (
        names,
        list((server.app.state.registry.sessions[session["id"]].directory).rglob("*")),
    )
    assert re.fullmatch(r"report-\d{13}\.txt", names[0]), names
    assert archive.read(names[0]).decode() == REPORT

    # After the session ends only its downloads stay on disk, and they are still served.
    api.post(f"/v1/sessions/{session['id']}", json={"status": "REQUEST_RELEASE"})
    wait_for_status(api, session["id"], "COMPLETED")
    record = server.app.state.registry.sessions[session["id"]]
    deadline = time.monotonic() + 15
    kept = ["downloads", "recording"]  # both still served after the end
    while sorted(p.name for p in record.directory.iterdir()) != kept and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(p.name for p in record.directory.iterdir()) == kept
    after = zipfile.ZipFile(io.BytesIO(api.get(f"/v1/sessions/{session['id']}/downloads").content))
    assert after.namelist() == names


def test_playwright_native_download_lands_in_the_session_zip_not_on_the_client_path(
    api: httpx.Client, browser: Browser, session, server
) -> None:
    # Playwright asks for downloads in its own artifacts folder ("allowAndName"). The server never writes
    # into a folder a client names: the file lands in the session's zip, as on Browserbase, and Playwright
    # still reports the download with its name.
    page = browser.contexts[0].pages[0]
    page.goto(f"{server.base_url}/site/")
    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    assert download.suggested_filename == "report.txt"
    assert download.failure() is None
    names: list[str] = []
    deadline = time.monotonic() + 15
    while not names and time.monotonic() < deadline:
        archive = zipfile.ZipFile(io.BytesIO(api.get(f"/v1/sessions/{session['id']}/downloads").content))
        names = archive.namelist()
        time.sleep(0.1)
    assert len(names) == 1
    assert re.fullmatch(r"report-\d{13}\.txt", names[0]), names
    assert archive.read(names[0]).decode() == REPORT
    with pytest.raises(Exception, match=r"No such file|ENOENT"):
        download.path().read_text()


def test_uploaded_file_is_used_by_a_file_input(api: httpx.Client, browser: Browser, session, server) -> None:
    content = b"hello from the uploads endpoint\n"
    uploaded = api.post(
        f"/v1/sessions/{session['id']}/uploads", files={"file": ("hello.txt", content, "text/plain")}
    )
    assert uploaded.status_code == 200
    assert uploaded.json()["message"]

    page = browser.contexts[0].pages[0]
    page.goto(f"{server.base_url}/site/")
    # Browserbase's documented path for uploaded files, used as user code written for Browserbase does.
    cdp = browser.contexts[0].new_cdp_session(page)
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#file"})["nodeId"]
    cdp.send("DOM.setFileInputFiles", {"nodeId": node, "files": ["/tmp/.uploads/hello.txt"]})
    got = page.evaluate(
        "async () => { const f = document.querySelector('#file').files[0]; return [f.name, await f.text()]; }"
    )
    assert got == ["hello.txt", content.decode()]


@pytest.mark.parametrize("name", ["../escape.txt", "a/b.txt", "..", "/etc/passwd", "..\\x.txt", ""])
def test_upload_names_that_leave_the_folder_are_refused(api: httpx.Client, session, name: str) -> None:
    response = api.post(f"/v1/sessions/{session['id']}/uploads", files={"file": (name, b"x", "text/plain")})
    assert response.status_code == 400
    assert response.json()["message"]


def test_live_view_urls_open_the_viewer_with_an_expiring_token(
    api: httpx.Client, browser: Browser, session, server
) -> None:
    page = browser.contexts[0].pages[0]
    page.goto(f"{server.base_url}/site/")
    live = api.get(f"/v1/sessions/{session['id']}/debug").json()
    assert {"debuggerUrl", "debuggerFullscreenUrl", "wsUrl", "pages"} <= live.keys()
    assert len(live["pages"]) == 1
    entry = live["pages"][0]
    assert entry["url"] == f"{server.base_url}/site/"
    assert entry["title"] == "Test site"

    viewer = api.get(entry["debuggerFullscreenUrl"])
    assert viewer.status_code == 200
    assert "live-assets/viewer.js" in viewer.text
    assert "<header>" not in viewer.text  # fullscreen: the view only

    # The page socket goes through this server and drives the page: navigation, under the proxy's rules.
    ws_url = live["wsUrl"] + f"&page={entry['id']}"
    with websockets.sync.client.connect(ws_url, max_size=None) as ws:
        ws.send('{"id": 1, "method": "Page.navigate", "params": {"url": "about:blank#live"}}')
        reply = ws.recv(timeout=10)
        while '"id": 1' not in reply and '"id":1' not in reply:
            reply = ws.recv(timeout=10)
        assert "frameId" in reply
    page.wait_for_url("about:blank#live", timeout=10000)

    forged = re.sub(r"token=[^&]+", "token=9999999999.forged", ws_url)
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        websockets.sync.client.connect(forged)
    assert refused.value.response.status_code == 401

    short = api.get(f"/v1/sessions/{session['id']}/debug", params={"expiresIn": 1}).json()
    time.sleep(2.1)
    with pytest.raises(websockets.exceptions.InvalidStatus) as late:
        websockets.sync.client.connect(short["wsUrl"])
    assert late.value.response.status_code == 401
    assert api.get(short["debuggerFullscreenUrl"]).status_code == 401


def test_logs_record_cdp_calls(api: httpx.Client, browser: Browser, session, server) -> None:
    browser.contexts[0].pages[0].goto(f"{server.base_url}/site/")
    logs = api.get(f"/v1/sessions/{session['id']}/logs").json()
    navigations = [entry for entry in logs if entry["method"] == "Page.navigate"]
    assert navigations, [entry["method"] for entry in logs]
    entry = navigations[-1]
    assert entry["sessionId"] == session["id"]
    assert entry["request"]["params"]["url"] == f"{server.base_url}/site/"
    assert "frameId" in entry["response"]["result"]
    assert isinstance(entry["pageId"], int)
    assert entry["pageId"] > 0
    assert entry["response"]["timestamp"] >= entry["request"]["timestamp"]


def test_context_login_survives_into_a_second_session(api: httpx.Client, pw: Playwright, server) -> None:
    context = api.post("/v1/contexts", json={"name": "login-test"})
    assert context.status_code == 201
    context_id = context.json()["id"]
    site = f"{server.base_url}/site/"

    first = api.post(
        "/v1/sessions", json={"browserSettings": {"context": {"id": context_id, "persist": True}}}
    ).json()
    assert first["contextId"] == context_id
    browser = pw.chromium.connect_over_cdp(first["connectUrl"])
    page = browser.contexts[0].pages[0]
    page.goto(site)
    page.evaluate(
        """() => {
            document.cookie = "login=alice; max-age=3600; path=/";
            document.cookie = "visit=session-cookie; path=/";
            localStorage.setItem("token", "secret-token");
        }"""
    )
    browser.close()
    wait_for_status(api, first["id"], "COMPLETED")

    second = api.post(
        "/v1/sessions", json={"browserSettings": {"context": {"id": context_id, "persist": False}}}
    ).json()
    browser = pw.chromium.connect_over_cdp(second["connectUrl"])
    page = browser.contexts[0].pages[0]
    page.goto(site)
    cookies = page.evaluate("document.cookie")
    token = page.evaluate("localStorage.getItem('token')")
    browser.close()
    wait_for_status(api, second["id"], "COMPLETED")
    assert "login=alice" in cookies
    assert "visit=session-cookie" in cookies
    assert token == "secret-token"
    assert api.delete(f"/v1/contexts/{context_id}").status_code == 204


def test_extension_is_loaded_into_sessions_that_name_it(api: httpx.Client, pw: Playwright, server) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(
            "marker/manifest.json",
            '{"manifest_version": 3, "name": "marker", "version": "1.0", "content_scripts": '
            '[{"matches": ["<all_urls>"], "js": ["marker.js"], "run_at": "document_end"}]}',
        )
        zf.writestr("marker/marker.js", "document.documentElement.dataset.marker = 'loaded';")
    files = {"file": ("marker.zip", archive.getvalue(), "application/zip")}
    uploaded = api.post("/v1/extensions", files=files)
    assert uploaded.status_code == 200, uploaded.text
    extension = uploaded.json()
    assert extension["fileName"] == "marker.zip"

    created = api.post("/v1/sessions", json={"extensionId": extension["id"]}).json()
    browser = pw.chromium.connect_over_cdp(created["connectUrl"])
    page = browser.contexts[0].pages[0]
    page.goto(f"{server.base_url}/site/")
    page.wait_for_function("document.documentElement.dataset.marker === 'loaded'", timeout=10000)
    browser.close()
    wait_for_status(api, created["id"], "COMPLETED")
    assert api.delete(f"/v1/extensions/{extension['id']}").status_code == 204
    assert api.get(f"/v1/extensions/{extension['id']}").status_code == 404


def test_pool_hands_out_fresh_browsers_and_refills(make_server, pw: Playwright) -> None:
    from local_helpers import client

    server = make_server(pool_size=1)
    registry = server.app.state.registry
    deadline = time.monotonic() + 20
    while not registry.pool._ready and time.monotonic() < deadline:
        time.sleep(0.05)
    pooled = registry.pool._ready[0]
    with client(server) as api:
        first = api.post("/v1/sessions", json={}).json()
        assert browser_pid(server, first["id"]) == pooled.pid
        browser = pw.chromium.connect_over_cdp(first["connectUrl"])
        browser.contexts[0].pages[0].goto(f"{server.base_url}/site/")
        browser.close()
        wait_for_status(api, first["id"], "COMPLETED")
        deadline = time.monotonic() + 20
        while not registry.pool._ready and time.monotonic() < deadline:
            time.sleep(0.05)
        second = api.post("/v1/sessions", json={}).json()
        assert browser_pid(server, second["id"]) != pooled.pid
        browser = pw.chromium.connect_over_cdp(second["connectUrl"])
        assert browser.contexts[0].pages[0].url == "about:blank"  # nothing carried over
        browser.close()
        wait_for_status(api, second["id"], "COMPLETED")
