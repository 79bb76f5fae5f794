"""
Sizes: JSON bodies, uploads (streamed to disk, never held whole in memory), extension zips and what they
unpack to (zip bombs), and WebSocket messages. Each limit is small here (``SMALL_LIMITS``).
"""

from __future__ import annotations

import io
import os
import tracemalloc
import zipfile
from typing import TYPE_CHECKING

import httpx
import pytest
import websockets.sync.client
from net_helpers import SMALL_LIMITS, KiB, create_session, extension_zip, manifest, raw_request, status_of
from websockets.exceptions import ConnectionClosed

from airflow_provider_browserbase.local.config import ServerLimits

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from airflow_provider_browserbase.local.server import LocalServer


@pytest.fixture
def session(api: httpx.Client) -> Iterator[dict]:
    created = create_session(api, keepAlive=True)
    yield created
    api.post(f"/v1/sessions/{created['id']}", json={"status": "REQUEST_RELEASE"})


def uploads_folder(server: LocalServer, session_id: str) -> Path:
    assert server.app is not None
    return server.app.state.registry.sessions[session_id].directory / "uploads"


def chunks(data: bytes, size: int = 4 * KiB) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def multipart(name: str, data: bytes, boundary: str = "sec-boundary") -> tuple[bytes, dict[str, str]]:
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"content-type": f"multipart/form-data; boundary={boundary}"}


def test_a_json_body_over_the_limit_answers_413(api: httpx.Client) -> None:
    big = b'{"userMetadata": {"x": "' + b"a" * SMALL_LIMITS.max_body_size + b'"}}'
    answer = api.post("/v1/sessions", content=big, headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert "--max-body-size" in answer.json()["message"]


def test_a_chunked_json_body_over_the_limit_answers_413(api: httpx.Client) -> None:
    big = b'{"userMetadata": {"x": "' + b"a" * 4 * SMALL_LIMITS.max_body_size + b'"}}'
    answer = api.post("/v1/contexts", content=chunks(big), headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert "--max-body-size" in answer.json()["message"]


def test_a_body_over_the_limit_is_refused_before_the_api_key_is_even_checked(small: LocalServer) -> None:
    # Content-Length alone decides; the server answers without reading the body.
    head = f"POST /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {200 * 2**20}\r\n\r\n"
    answer = raw_request(small, head.encode() + b"{")
    assert status_of(answer) == 413
    assert b"--max-body-size" in answer


def test_an_upload_up_to_the_limit_is_stored(api: httpx.Client, small: LocalServer, session: dict) -> None:
    data = bytes(range(256)) * (SMALL_LIMITS.max_upload_size // 256)
    answer = api.post(f"/v1/sessions/{session['id']}/uploads", files={"file": ("exact.bin", data)})
    assert answer.status_code == 200, answer.text
    folder = uploads_folder(small, session["id"])
    assert (folder / "exact.bin").read_bytes() == data
    assert sorted(p.name for p in folder.iterdir()) == ["exact.bin"]  # no temporary file left


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_upload_over_the_limit_answers_413_and_leaves_no_file(
    api: httpx.Client, small: LocalServer, session: dict, chunked: bool
) -> None:
    body, headers = multipart("big.bin", b"x" * (SMALL_LIMITS.max_upload_size + 1))
    content = chunks(body) if chunked else body
    answer = api.post(f"/v1/sessions/{session['id']}/uploads", content=content, headers=headers)
    assert answer.status_code == 413
    assert "--max-upload-size" in answer.json()["message"]
    assert list(uploads_folder(small, session["id"]).iterdir()) == []


def test_an_upload_cut_off_leaves_no_file(api: httpx.Client, small: LocalServer, session: dict) -> None:
    body, headers = multipart("cut.bin", b"y" * 10 * KiB)
    answer = api.post(f"/v1/sessions/{session['id']}/uploads", content=body[:-200], headers=headers)
    assert answer.status_code == 400
    assert list(uploads_folder(small, session["id"]).iterdir()) == []


def test_an_upload_is_streamed_not_held_in_memory(
    make_server: Callable[..., LocalServer], tmp_path: Path
) -> None:
    size = 24 * 2**20
    server = make_server(limits=ServerLimits(max_upload_size=32 * 2**20))
    source = tmp_path / "large.bin"
    with source.open("wb") as out:
        for _ in range(size // 2**20):
            out.write(b"z" * 2**20)
    with httpx.Client(base_url=server.base_url, headers={"X-BB-API-Key": server.api_key}, timeout=60) as api:
        created = create_session(api, keepAlive=True)
        tracemalloc.start()
        try:
            with source.open("rb") as handle:  # httpx streams an open file in chunks
                answer = api.post(
                    f"/v1/sessions/{created['id']}/uploads", files={"file": ("large.bin", handle)}
                )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert answer.status_code == 200, answer.text
        assert (uploads_folder(server, created["id"]) / "large.bin").stat().st_size == size
        # The whole process (client and server threads) never held a sizeable part of the 24 MiB.
        assert peak < 4 * 2**20, f"peak traced memory {peak} bytes for a {size}-byte upload"


def test_an_extension_zip_over_the_limit_answers_413(api: httpx.Client, small: LocalServer) -> None:
    data = extension_zip([("noise.bin", os.urandom(SMALL_LIMITS.max_extension_size + KiB))])
    assert len(data) > SMALL_LIMITS.max_extension_size
    answer = api.post("/v1/extensions", files={"file": ("big.zip", data)})
    assert answer.status_code == 413
    assert "--max-extension-size" in answer.json()["message"]
    assert list((small.data_dir / "extensions").iterdir()) == []


def zip_bomb(unpacked: int) -> bytes:
    """A zip of a few KB whose one entry unpacks to ``unpacked`` zero bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("manifest.json", manifest())
        with archive.open("bomb.bin", "w", force_zip64=True) as entry:
            for _ in range(unpacked // 2**20):
                entry.write(bytes(2**20))
    return buffer.getvalue()


def test_a_zip_bomb_is_refused_and_leaves_nothing(api: httpx.Client, small: LocalServer) -> None:
    data = zip_bomb(8 * 2**20)
    assert len(data) < SMALL_LIMITS.max_extension_size  # passes the archive-size limit...
    answer = api.post("/v1/extensions", files={"file": ("bomb.zip", data)})
    assert answer.status_code == 400  # ...but not the unpacked-size one
    assert "--max-extension-unpacked" in answer.json()["message"]
    assert list((small.data_dir / "extensions").iterdir()) == []


def test_a_zip_with_a_lying_entry_size_is_stopped_while_unpacking(
    api: httpx.Client, small: LocalServer
) -> None:
    data = bytearray(zip_bomb(2 * 2**20))
    # Rewrite the declared size of bomb.bin (central directory and local header) to 1 byte.
    real = (2 * 2**20).to_bytes(8, "little")
    assert data.count(real) >= 1
    data = data.replace(real, (1).to_bytes(8, "little"))
    answer = api.post("/v1/extensions", files={"file": ("liar.zip", bytes(data))})
    assert answer.status_code == 400
    assert list((small.data_dir / "extensions").iterdir()) == []


def test_a_zip_with_too_many_entries_is_refused(api: httpx.Client, small: LocalServer) -> None:
    data = extension_zip([(f"f{i}.js", b"") for i in range(SMALL_LIMITS.max_extension_files + 1)])
    answer = api.post("/v1/extensions", files={"file": ("many.zip", data)})
    assert answer.status_code == 400
    assert "--max-extension-files" in answer.json()["message"]
    assert list((small.data_dir / "extensions").iterdir()) == []


def test_a_websocket_message_over_the_limit_closes_the_socket(api: httpx.Client, session: dict) -> None:
    with websockets.sync.client.connect(session["connectUrl"], max_size=None) as socket:
        fits = '{"id": 1, "method": "Runtime.evaluate", "params": {"expression": "%s"}}'
        socket.send(fits % ("a" * (SMALL_LIMITS.max_ws_message_size // 2)))
        assert '"id": 1' in str(socket.recv(timeout=10))
        socket.send(fits % ("a" * SMALL_LIMITS.max_ws_message_size))
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009  # message too big
