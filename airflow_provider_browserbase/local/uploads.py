"""
Receive the ``file`` part of a multipart upload straight into a file on disk, in chunks.

Starlette's ``request.form()`` would spool the file to a temporary file first and hand back an object
whose ``read()`` loads it whole. Here each chunk is written as it arrives, the size is checked as it
grows, and a refused or broken upload leaves no file behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from airflow_provider_browserbase.local.errors import ApiError
from airflow_provider_browserbase.local.limits import BodyTooLargeError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path
    from typing import BinaryIO

    from python_multipart.multipart import MultipartCallbacks
    from starlette.requests import Request

FIELD = "file"
# Headers of one part (Content-Disposition, Content-Type); real clients send well under 1 KiB.
MAX_PART_HEADER_BYTES = 16 * 2**10


@dataclass
class ReceivedFile:
    """
    An upload stored on disk.

    :param path: Where it was written.
    :param filename: The name the client gave it.
    :param size: Bytes written.
    """

    path: Path
    filename: str
    size: int


@dataclass
class _Parts:
    """What the parser's callbacks saw since the last chunk; acted upon between chunks, in the loop."""

    header_name: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    header_bytes: int = 0
    disposition: bytes = b""
    in_file: bool = False
    file_started: str | None = None  # the file name, when the file part's headers just finished
    chunks: list[bytes] = field(default_factory=list)
    file_ended: bool = False
    files_seen: int = 0

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._header(self.header_name, data[start:end]),
            "on_header_value": lambda data, start, end: self._header(self.header_value, data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self.disposition = b""
        self.header_bytes = 0

    def _header(self, into: bytearray, data: bytes) -> None:
        self.header_bytes += len(data)
        if self.header_bytes > MAX_PART_HEADER_BYTES:
            raise ApiError(400, "malformed multipart body: a part's headers are too long")
        into.extend(data)

    def _header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = bytes(self.header_value)
        self.header_name.clear()
        self.header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        self.in_file = options.get(b"name") == FIELD.encode() and b"filename" in options
        if self.in_file:
            self.files_seen += 1
            if self.files_seen > 1:
                raise ApiError(400, f"body/{FIELD} must be a single file")
            self.file_started = _decode(options[b"filename"])

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:  # the other parts are not used: dropped, never stored
            self.chunks.append(data[start:end])

    def _part_end(self) -> None:
        if self.in_file:
            self.file_ended = True
            self.in_file = False


async def _stream(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise ApiError(400, "the client disconnected before the upload was complete") from None


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


async def receive_file(
    request: Request, choose_path: Callable[[str], Path], *, limit: int, what: str, flag: str
) -> ReceivedFile:
    """
    Stream the multipart part named ``file`` of ``request`` to ``choose_path(its file name)``.

    The file is written under a temporary name beside its target and renamed when complete, so a
    reader never sees half a file and a failure removes what was written.

    :param request: A ``multipart/form-data`` request.
    :param choose_path: Maps the client's file name to the target path; raises :class:`ApiError` to refuse.
    :param limit: Bytes the file may have; one more answers 413.
    :param what: The upload in the 413 message ("the upload").
    :param flag: The command-line flag that sets ``limit``, for the 413 message.
    :raises ApiError: 415 for another content type, 400 for a malformed body or no ``file`` part.
    """
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data":
        raise ApiError(415, f"expected multipart/form-data with a '{FIELD}' field")
    boundary = options.get(b"boundary")
    if not boundary:
        raise ApiError(400, "malformed multipart body: the content type names no boundary")
    parts = _Parts()
    parser = MultipartParser(boundary, parts.callbacks())
    target: Path | None = None
    partial: Path | None = None
    sink: BinaryIO | None = None
    filename = ""
    size = 0
    try:
        async for chunk in _stream(request):
            try:
                parser.write(chunk)
            except FormParserError:
                raise ApiError(400, "malformed multipart body") from None
            if parts.file_started is not None:
                target = choose_path(parts.file_started)
                partial = target.with_name(f".upload-{uuid.uuid4().hex}.part")
                sink = await asyncio.to_thread(partial.open, "xb")
                filename, parts.file_started = parts.file_started, None
            if parts.chunks:
                data = b"".join(parts.chunks)
                parts.chunks.clear()
                size += len(data)
                if size > limit:
                    raise BodyTooLargeError(what, limit, flag)
                assert sink is not None
                await asyncio.to_thread(sink.write, data)
        try:
            parser.finalize()
        except FormParserError:
            raise ApiError(400, "malformed multipart body") from None
        if target is None or sink is None or partial is None:
            raise ApiError(400, f"body/{FIELD} is required (a file part named '{FIELD}')")
        if not parts.file_ended:
            raise ApiError(400, "malformed multipart body: the file part is cut off")
        await asyncio.to_thread(sink.close)
        await asyncio.to_thread(partial.replace, target)
        partial = None
        return ReceivedFile(target, filename, size)
    except OSError as exc:
        # The session's folder went away (it ended meanwhile), or the disk is full: not the input's fault.
        raise ApiError(503, f"the upload cannot be stored: {exc.strerror or exc}") from None
    finally:
        if sink is not None:
            sink.close()
        if partial is not None:
            with contextlib.suppress(OSError):
                partial.unlink()
