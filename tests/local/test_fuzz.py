"""Generated bad input never gets a 5xx from ``browserbase-local``, and the server keeps serving."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_helpers import client, start_server

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx

    from airflow_provider_browserbase.local.server import LocalServer

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
session_bodies = st.fixed_dictionaries(
    {},
    optional={
        key: json_values
        for key in (
            "timeout", "region", "keepAlive", "userMetadata", "proxies", "browserSettings",
            "extensionId", "projectId", "proxySettings",
        )
    },
)  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    running = start_server(max_sessions=10_000, no_browser=True)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def api(server: LocalServer) -> Iterator[httpx.Client]:
    with client(server) as http:
        yield http


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.content[:300], response.text)
    if response.status_code >= 400:
        assert response.json()["message"]


@FUZZ
@given(body=session_bodies)
def test_session_create_bodies(api: httpx.Client, body: dict[str, Any]) -> None:
    response = api.post("/v1/sessions", json=body)
    _check(response)
    if response.status_code == 201:
        api.post(f"/v1/sessions/{response.json()['id']}", json={"status": "REQUEST_RELEASE"})


@FUZZ
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_raw_bodies_on_every_json_endpoint(api: httpx.Client, raw: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    _check(api.post("/v1/sessions", content=raw, headers=headers))
    _check(api.post("/v1/contexts", content=raw, headers=headers))
    _check(api.post("/v1/sessions/00000000-0000-0000-0000-000000000000", content=raw, headers=headers))


@FUZZ
@given(q=st.text(max_size=80), status=st.text(max_size=12))
def test_list_queries(api: httpx.Client, q: str, status: str) -> None:
    _check(api.get("/v1/sessions", params={"q": q}))
    _check(api.get("/v1/sessions", params={"status": status}))


@FUZZ
@given(name=st.text(min_size=0, max_size=40), body=json_values)
def test_upload_names_and_update_bodies(api: httpx.Client, server: LocalServer, name: str, body: Any) -> None:
    session_id = api.post("/v1/sessions", json={"keepAlive": True}).json()["id"]
    try:
        _check(api.post(f"/v1/sessions/{session_id}/uploads", files={"file": (name, b"data")}))
        _check(api.post(f"/v1/sessions/{session_id}", content=json.dumps(body)))
    finally:
        api.post(f"/v1/sessions/{session_id}", json={"status": "REQUEST_RELEASE"})
    # Whatever the name, the bytes landed directly in some session's uploads folder, nowhere else.
    # (Ended sessions' folders are being removed meanwhile: a vanished file is skipped.)
    for folder, _, files in os.walk(server.data_dir):
        for name in files:
            path = Path(folder) / name
            with contextlib.suppress(FileNotFoundError):
                if path.read_bytes() == b"data":
                    assert path.parent.name == "uploads", path
                    assert path.parent.parent.parent == server.data_dir, path


@pytest.mark.parametrize("raw", [b'{"timeout": Infinity}', b'{"timeout": NaN}', b'{"timeout": 1e400}'])
def test_non_json_numbers_are_refused(api: httpx.Client, raw: bytes) -> None:
    response = api.post("/v1/sessions", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["message"] == "body is not valid JSON"


def test_server_still_serves_after_the_fuzzing(api: httpx.Client) -> None:
    assert api.get("/health").json()["status"] == "ok"
    assert api.post("/v1/sessions", json={}).status_code == 201
