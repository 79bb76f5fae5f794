"""
DNS rebinding and cross-origin sockets: the ``Host`` of every request must be a name of the server, and
a browser page of another origin may not open a WebSocket (the CDP proxy, ``/debug``, any path). A refused
handshake is one WARNING line of ours, without secrets, and no error of uvicorn's.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest
import websockets.sync.client
from net_helpers import client, create_session
from websockets.exceptions import InvalidStatus

from airflow_provider_browserbase.local.config import LocalConfig, ServerLimits
from airflow_provider_browserbase.local.network import UvicornWebSocketLogFilter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import httpx

    from airflow_provider_browserbase.local.server import LocalServer

CDP_CALL = '{"id": 1, "method": "Browser.getVersion"}'


def open_socket(url: str, **options: object) -> str:
    """Open a WebSocket, send one CDP command and return the answer (raises InvalidStatus if refused)."""
    with websockets.sync.client.connect(url, open_timeout=10, **options) as socket:  # type: ignore[arg-type]
        socket.send(CDP_CALL)
        return str(socket.recv(timeout=10))


def refused(url: str, **options: object) -> tuple[int, str]:
    with pytest.raises(InvalidStatus) as caught:
        open_socket(url, **options)
    response = caught.value.response
    return response.status_code, response.body.decode() if response.body else ""


@pytest.mark.parametrize("path", ["/health", "/v1/sessions", "/v1/projects", "/no-such-page"])
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8787", "attacker.localhost.evil.example"])
def test_http_requests_with_a_foreign_host_are_refused(api: httpx.Client, path: str, host: str) -> None:
    answer = api.get(path, headers={"Host": host})
    assert answer.status_code == 400
    message = answer.json()["message"]
    assert "misdirected" in message
    assert "unknown host" in message
    assert "--allowed-host" in message


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"])
def test_loopback_names_are_accepted_with_any_port(api: httpx.Client, small: LocalServer, name: str) -> None:
    for host in (name, f"{name}:{small.config.port}", f"{name}:9999"):
        assert api.get("/health", headers={"Host": host}).status_code == 200


def test_a_websocket_with_a_foreign_host_is_refused(api: httpx.Client, small: LocalServer) -> None:
    session = create_session(api, keepAlive=True)
    try:
        status, body = refused(session["connectUrl"], additional_headers={"Host": "evil.example"})
        assert status == 400
        assert "unknown host" in body
        assert "Browser.getVersion" not in body
        assert '"id": 1' in open_socket(session["connectUrl"])  # the same socket, rightly addressed
    finally:
        api.post(f"/v1/sessions/{session['id']}", json={"status": "REQUEST_RELEASE"})


def test_allowed_host_adds_names(make_server: Callable[..., LocalServer]) -> None:
    server = make_server(allowed_hosts=["bb.internal", "Other.Example"])
    with client(server) as api:
        for host in ("bb.internal", "bb.internal:80", "other.example", "127.0.0.1"):
            assert api.get("/health", headers={"Host": host}).status_code == 200, host
        assert api.get("/health", headers={"Host": "evil.example"}).status_code == 400


def test_allowed_host_star_accepts_any_name(make_server: Callable[..., LocalServer]) -> None:
    server = make_server(allowed_hosts=["*"])
    with client(server) as api:
        assert api.get("/health", headers={"Host": "anything.example"}).status_code == 200


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "https://evil.example",
        "null",
        "http://127.0.0.1:1",  # another web app on this machine
        "http://localhost:1",
        "http://evil.example:{port}",  # a rebound name on our port
        "devtools://devtools",  # Chromium's DevTools: accepted on a page's DevTools socket only
    ],
)
def test_the_cdp_socket_refuses_pages_of_another_origin(
    api: httpx.Client, small: LocalServer, origin: str
) -> None:
    session = create_session(api, keepAlive=True)
    try:
        status, body = refused(session["connectUrl"], origin=origin.format(port=small.config.port))
        assert status == 403
        assert "origin" in body
        assert "refused" in body
        # Still usable by a client that is no web page (Playwright sends no Origin).
        assert '"id": 1' in open_socket(session["connectUrl"])
    finally:
        api.post(f"/v1/sessions/{session['id']}", json={"status": "REQUEST_RELEASE"})


@pytest.mark.parametrize("origin", ["http://127.0.0.1:{port}", "http://localhost:{port}"])
def test_the_cdp_socket_accepts_pages_of_this_server(
    api: httpx.Client, small: LocalServer, origin: str
) -> None:
    session = create_session(api, keepAlive=True)
    try:
        answer = open_socket(session["connectUrl"], origin=origin.format(port=small.config.port))
        assert '"id": 1' in answer
    finally:
        api.post(f"/v1/sessions/{session['id']}", json={"status": "REQUEST_RELEASE"})


@pytest.mark.parametrize(
    "path",
    [
        "/debug/{sid}/token/devtools/browser",
        "/debug/{sid}/token/devtools/page/ABC",
        "/no-such-socket",
    ],
)
def test_every_websocket_path_checks_the_origin(api: httpx.Client, small: LocalServer, path: str) -> None:
    session = create_session(api, keepAlive=True)
    try:
        url = f"ws://127.0.0.1:{small.config.port}{path.format(sid=session['id'])}"
        status, body = refused(url, origin="http://evil.example")
        assert status == 403
        assert "evil.example" in body
    finally:
        api.post(f"/v1/sessions/{session['id']}", json={"status": "REQUEST_RELEASE"})


def test_behind_a_port_forward_the_origin_port_follows_the_host_header(api: httpx.Client) -> None:
    # docker -p 9000:8787: the page is http://127.0.0.1:9000 and so is the Host of its socket.
    session = create_session(api, keepAlive=True)
    try:
        headers = {"Host": "127.0.0.1:9000"}
        answer = open_socket(
            session["connectUrl"], origin="http://127.0.0.1:9000", additional_headers=headers
        )
        assert '"id": 1' in answer
    finally:
        api.post(f"/v1/sessions/{session['id']}", json={"status": "REQUEST_RELEASE"})


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "myhost.example"])  # noqa: S104
def test_a_non_loopback_host_needs_its_own_api_key(host: str) -> None:
    with pytest.raises(ValueError, match="--api-key") as caught:
        LocalConfig(host=host, api_key="bb_local_dev_key")
    assert "BROWSERBASE_API_KEY" in str(caught.value)
    assert "bb_local_dev_key" not in str(caught.value)
    LocalConfig(host=host, api_key="a-key-of-my-own", limits=ServerLimits())  # fine with its own key


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_hosts_may_use_the_default_key(host: str) -> None:
    assert LocalConfig(host=host, api_key="bb_local_dev_key").uses_default_key


@pytest.fixture
def uvicorn_records() -> Iterator[list[logging.LogRecord]]:
    """What uvicorn's own logger lets through (it does not propagate to the root logger)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(handler)
    try:
        yield records
    finally:
        uvicorn_log.removeHandler(handler)


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        ("wrong-key", 401, "invalid session or signingKey"),
        ("foreign-origin", 403, "WebSocket from origin 'http://evil.example' refused"),
        ("foreign-host", 400, "unknown host 'evil.example'"),
    ],
)
def test_a_refused_handshake_is_one_warning_of_ours_without_secrets(
    api: httpx.Client,
    caplog: pytest.LogCaptureFixture,
    uvicorn_records: list[logging.LogRecord],
    case: str,
    status: int,
    reason: str,
) -> None:
    session = create_session(api, keepAlive=True)
    try:
        url = session["connectUrl"]
        options: dict[str, object] = {
            "wrong-key": {},
            "foreign-origin": {"origin": "http://evil.example"},
            "foreign-host": {"additional_headers": {"Host": "evil.example"}},
        }[case]
        if case == "wrong-key":
            url = url.replace(session["signingKey"], "not-" + session["signingKey"])
        caplog.clear()
        with caplog.at_level(logging.INFO):
            assert refused(url, **options)[0] == status
        ours = [r for r in caplog.records if r.name.startswith("airflow_provider_browserbase")]
        assert [r.levelno for r in ours] == [logging.WARNING]
        assert "Refused a WebSocket to / from 127.0.0.1:" in ours[0].getMessage()
        assert f": {status} " in ours[0].getMessage()
        assert reason in ours[0].getMessage()
        assert session["signingKey"] not in caplog.text
        assert [r.getMessage() for r in uvicorn_records if r.levelno >= logging.ERROR] == []
    finally:
        api.post(f"/v1/sessions/{session['id']}", json={"status": "REQUEST_RELEASE"})


def test_uvicorns_handshake_lines_lose_their_query_string() -> None:
    # uvicorn's INFO line for each handshake (shown with --log-level info) would print the signingKey.
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/?signingKey=s3cret"),
        None,
    )
    assert UvicornWebSocketLogFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "WebSocket /" [accepted]'
    # Not refused on purpose: uvicorn's error about an app that never answered a handshake stays.
    unanswered = logging.LogRecord(
        "uvicorn.error",
        logging.ERROR,
        __file__,
        1,
        "ASGI callable returned without completing handshake.",
        None,
        None,
    )
    assert UvicornWebSocketLogFilter().filter(unanswered)
