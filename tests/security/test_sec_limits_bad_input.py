"""Inputs that used to answer 500 now answer 400 naming the problem; booleans must be JSON booleans."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from net_helpers import client, create_session, extension_zip, start_server

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx

    from airflow_provider_browserbase.local.server import LocalServer

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def roomy() -> Iterator[httpx.Client]:
    """A server with the default limits: a 5000-deep object is 30 KB, over the small body limit."""
    server = start_server()
    try:
        with client(server) as http:
            yield http
    finally:
        server.stop()


def nested(shape: str, depth: int) -> bytes:
    if shape == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("depth", [40, 900, 5000])
@pytest.mark.parametrize("shape", ["array", "object"])
def test_deeply_nested_json_answers_400(roomy: httpx.Client, depth: int, shape: str) -> None:
    body = b'{"userMetadata": {"deep": ' + nested(shape, depth) + b"}}"
    answer = roomy.post("/v1/sessions", content=body, headers=JSON)
    assert answer.status_code == 400, answer.text
    assert "nested" in answer.json()["message"]


def test_an_upload_name_too_long_for_the_file_system_answers_400(api: httpx.Client) -> None:
    session = create_session(api, keepAlive=True)
    try:
        answer = api.post(f"/v1/sessions/{session['id']}/uploads", files={"file": ("n" * 300, b"data")})
        assert answer.status_code == 400
        assert "too long" in answer.json()["message"]
        assert "255" in answer.json()["message"]
        multibyte = "é" * 200  # 200 characters, 400 bytes
        answer = api.post(f"/v1/sessions/{session['id']}/uploads", files={"file": (multibyte, b"data")})
        assert answer.status_code == 400
    finally:
        api.post(f"/v1/sessions/{session['id']}", json={"status": "REQUEST_RELEASE"})


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ([("a", b"1"), ("a/b", b"2")], "both a file and a folder"),
        ([("a/b", b"2"), ("a", b"1")], "both a file and a folder"),
        ([("x" * 300 + ".js", b"1")], "longer than 255"),
        pytest.param(
            [("dup.js", b"1"), ("dup.js", b"2")],
            "twice",
            marks=pytest.mark.filterwarnings("ignore:Duplicate name"),
        ),
    ],
    ids=["file-then-folder", "folder-then-file", "long-name", "duplicate"],
)
def test_extension_zips_with_clashing_or_impossible_entries_answer_400(
    api: httpx.Client, small: LocalServer, entries: list[tuple[str, bytes]], words: str
) -> None:
    answer = api.post("/v1/extensions", files={"file": ("bad.zip", extension_zip(entries))})
    assert answer.status_code == 400
    assert words in answer.json()["message"]
    assert list((small.data_dir / "extensions").iterdir()) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"keepAlive": "yes"}, "body/keepAlive"),
        ({"keepAlive": 1}, "body/keepAlive"),
        ({"keepAlive": "true"}, "body/keepAlive"),
        ({"browserSettings": {"logSession": "no"}}, "body/browserSettings/logSession"),
        ({"browserSettings": {"blockAds": 0}}, "body/browserSettings/blockAds"),
        (
            {"browserSettings": {"context": {"id": "x", "persist": "on"}}},
            "body/browserSettings/context/persist",
        ),
    ],
)
def test_booleans_must_be_json_booleans(api: httpx.Client, body: dict, field: str) -> None:
    answer = api.post("/v1/sessions", json=body)
    assert answer.status_code == 400
    assert f"{field} must be boolean" in answer.json()["message"]


def test_real_booleans_and_null_are_accepted(api: httpx.Client) -> None:
    for value in (True, False, None):
        session = create_session(api, keepAlive=value, browserSettings={"blockAds": value})
        assert session["keepAlive"] is bool(value)
        api.post(f"/v1/sessions/{session['id']}", json={"status": "REQUEST_RELEASE"})
