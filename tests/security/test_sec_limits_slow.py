"""
Slow clients (slowloris): connections that send nothing, half a request, headers a byte at a time, or a
body that stalls are closed; the number of connections, WebSockets included, is bounded; the server keeps
answering.

Everything is on loopback, against a server with 2 s timeouts, and every socket is closed at the end.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from typing import TYPE_CHECKING

import pytest
import websockets.sync.client
from net_helpers import SMALL_LIMITS, client, create_session, raw_request, status_of
from websockets.exceptions import InvalidStatus

from airflow_provider_browserbase.local.config import ServerLimits

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import httpx

    from airflow_provider_browserbase.local.server import LocalServer

HALF_REQUEST = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
# Long enough for every socket to be closed under load; each test stops by itself after it.
GRACE = 20.0


@contextlib.contextmanager
def open_sockets(server: LocalServer, count: int) -> Iterator[list[socket.socket]]:
    sockets = []
    try:
        for _ in range(count):
            sockets.append(socket.create_connection(("127.0.0.1", server.config.port), timeout=5))
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """Whether the server closes ``sock`` (EOF or reset) before ``deadline`` (monotonic)."""
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        while sock.recv(4096):
            pass  # an error answer may come first
    except TimeoutError:
        return False
    except OSError:
        return True  # reset
    return True


def test_two_hundred_half_sent_requests_are_closed(small: LocalServer, api: httpx.Client) -> None:
    with open_sockets(small, 200) as sockets:
        for index, sock in enumerate(sockets):
            if index % 2:
                sock.sendall(HALF_REQUEST)  # the other half send nothing at all
        started = time.monotonic()
        deadline = started + GRACE
        still_open = [s for s in sockets if not closed_by_server(s, deadline)]
        elapsed = time.monotonic() - started
    assert still_open == []
    assert elapsed >= SMALL_LIMITS.header_timeout * 0.8  # closed by the header timeout, not at once
    assert api.get("/health").status_code == 200


def test_headers_sent_a_byte_at_a_time_are_cut_off(small: LocalServer) -> None:
    with open_sockets(small, 1) as (sock,):
        started = time.monotonic()
        closed = False
        for byte in HALF_REQUEST * 100:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            if time.monotonic() - started > GRACE:
                break
            time.sleep(0.05)
        closed = closed or closed_by_server(sock, time.monotonic() + 1)
        assert closed
        assert time.monotonic() - started < SMALL_LIMITS.header_timeout + GRACE / 2


def test_oversized_headers_are_refused_at_once(make_server: Callable[..., LocalServer]) -> None:
    # A long header timeout: only the size can explain a quick close.
    server = make_server(limits=ServerLimits(header_timeout=60))
    started = time.monotonic()
    answer = raw_request(server, HALF_REQUEST + b"a" * 200 * 2**10, timeout=GRACE)
    assert answer == b"" or status_of(answer) in (400, 431)
    assert time.monotonic() - started < GRACE


def test_a_stalled_body_answers_408(small: LocalServer) -> None:
    head = (
        b"POST /v1/contexts HTTP/1.1\r\nHost: 127.0.0.1\r\nX-BB-API-Key: "
        + small.api_key.encode()
        + b'\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":'
    )
    started = time.monotonic()
    answer = raw_request(small, head, timeout=GRACE)
    assert status_of(answer) == 408
    assert b"--body-timeout" in answer
    assert time.monotonic() - started < GRACE


def test_connections_past_the_limit_answer_503_until_they_go(small: LocalServer, api: httpx.Client) -> None:
    with open_sockets(small, SMALL_LIMITS.max_connections):
        answer = raw_request(small, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert status_of(answer) == 503
    deadline = time.monotonic() + GRACE
    while api.get("/health").status_code != 200:  # the server notices the closed sockets
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_websockets_count_against_the_connection_limit(
    make_server: Callable[..., LocalServer], caplog: pytest.LogCaptureFixture
) -> None:
    # Four connections: the API client's keep-alive one and three CDP sockets (--no-browser sockets
    # stay open and answer "no browser").
    server = make_server(limits=ServerLimits(max_connections=4))
    with client(server) as api, contextlib.ExitStack() as stack:
        session = create_session(api, keepAlive=True)
        url = session["connectUrl"]
        sockets = [
            stack.enter_context(websockets.sync.client.connect(url, open_timeout=10)) for _ in range(3)
        ]
        with (
            caplog.at_level(logging.WARNING, logger="airflow_provider_browserbase"),
            pytest.raises(InvalidStatus) as caught,
        ):
            websockets.sync.client.connect(url, open_timeout=10)
        response = caught.value.response
        assert response.status_code == 503
        assert "--max-connections" in json.loads(response.body or b"{}")["message"]
        assert status_of(raw_request(server, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")) == 503
        assert api.get("/health").status_code == 200  # a connection already open goes on
        refusals = [r.getMessage() for r in caplog.records if "Refused a WebSocket" in r.getMessage()]
        assert len(refusals) == 1
        assert "503 too many connections" in refusals[0]
        assert session["signingKey"] not in caplog.text

        sockets.pop().close()
        deadline = time.monotonic() + GRACE
        while True:  # the server notices the closed socket
            try:
                stack.enter_context(websockets.sync.client.connect(url, open_timeout=10))
                break
            except InvalidStatus:
                assert time.monotonic() < deadline
                time.sleep(0.1)
