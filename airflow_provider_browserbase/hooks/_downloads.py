"""
Reading the downloads zip of a session: counting its files and extracting them safely.

The one extractor of this project (the hook and ``BrowserbaseDownloadsOperator`` both use it). The zip
comes from a browser that visited arbitrary sites, so it is treated as hostile: names that climb out of the
destination, absolute names and symbolic links are refused before anything is written; the number of files
and the bytes they unpack to are capped, counted while streaming (a zip's declared sizes can lie), so a
zip bomb stops at the cap with a message instead of filling a disk or memory.
"""

from __future__ import annotations

import contextlib
import io
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from airflow_provider_browserbase.exceptions import BrowserbaseError
from airflow_provider_browserbase.hooks._paths import destination_path, is_local

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

EMPTY_ZIP_SIZE = 22  # an archive with no entries is its end-of-central-directory record alone

#: What a downloads archive may unpack to, in all, unless the caller says more. Browser downloads are
#: reports, exports and images; the zip itself is held in memory, so an honest one this big is already
#: unusual, and a 100 KB zip that claims gigabytes is an attack.
DEFAULT_MAX_TOTAL_BYTES = 100 * 2**20
#: How many files a downloads archive may hold unless the caller says more.
DEFAULT_MAX_FILES = 1000
_CHUNK = 1 << 20


def _file_entries(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return [info for info in archive.infolist() if not info.is_dir()]


def count_files(data: bytes) -> int:
    """Number of files in a downloads zip (0 for the empty 22-byte archive)."""
    if len(data) <= EMPTY_ZIP_SIZE:
        return 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return len(_file_entries(archive))
    except zipfile.BadZipFile:
        raise BrowserbaseError("Browserbase returned a downloads archive that is not a valid zip") from None


def _unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if "\\" in name:
        return "contains a backslash"
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and ":" in path.parts[0]):
        return "is absolute"
    if any(part == ".." for part in path.parts):
        return "climbs out of the folder"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    return None


def _refuse(reason: str) -> BrowserbaseError:
    return BrowserbaseError(f"Refusing to extract the downloads archive: {reason}")


def _check_entries(
    entries: list[zipfile.ZipInfo], target: Path | ObjectStoragePath, max_total_bytes: int, max_files: int
) -> None:
    if len(entries) > max_files:
        raise _refuse(f"it holds {len(entries)} files, more than max_files={max_files}")
    for info in entries:
        reason = _unsafe_reason(info)
        if (
            reason is None
            and is_local(target)
            and not (target / info.filename).resolve().is_relative_to(target)
        ):
            reason = "resolves outside the destination"
        if reason:
            raise _refuse(f"entry {info.filename!r} {reason}")
    declared = sum(info.file_size for info in entries)
    if declared > max_total_bytes:
        raise _refuse(
            f"it unpacks to {declared} bytes, more than max_total_bytes={max_total_bytes} "
            "(raise max_total_bytes if downloads this large are expected)"
        )


def extract_files(
    data: bytes,
    destination: str | Path | ObjectStoragePath,
    *,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_files: int = DEFAULT_MAX_FILES,
) -> list[Any]:
    """
    Extract the files of a downloads zip into ``destination``, created if missing.

    :param destination: a local folder (``str`` or ``Path``), or an object-storage one (``ObjectStoragePath``,
        or a string with a scheme such as ``s3://``).
    :param max_total_bytes: the most bytes all files may unpack to, counted as they are written.
    :param max_files: the most files the archive may hold.
    :return: the written paths (``Path`` for a local folder, else ``ObjectStoragePath``).
    :raises BrowserbaseError: for an unsafe name, a symbolic link, or a cap exceeded; every name and the
        declared sizes are checked before anything is written, and whatever was written before an
        archive turned out to exceed its declared sizes is removed again.
    """
    target: Path | ObjectStoragePath = destination_path(destination)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise BrowserbaseError("Browserbase returned a downloads archive that is not a valid zip") from None
    with archive:
        entries = _file_entries(archive)
        _check_entries(entries, target, max_total_bytes, max_files)
        target.mkdir(parents=True, exist_ok=True)
        written: list[Any] = []
        total = 0
        try:
            for info in entries:
                path = target / info.filename
                path.parent.mkdir(parents=True, exist_ok=True)
                written.append(path)
                # Python's zipfile stops an entry at its declared size (a longer one fails its CRC), so the
                # declared total checked above bounds the output; the count keeps the cap true whatever
                # the zip library does.
                with archive.open(info) as source, path.open("wb") as sink:
                    while chunk := source.read(_CHUNK):
                        total += len(chunk)
                        if total > max_total_bytes:
                            raise _refuse(
                                f"it unpacks to more than max_total_bytes={max_total_bytes} bytes (more than "
                                "its entries declare)"
                            )
                        sink.write(chunk)
        except zipfile.BadZipFile as err:
            _remove(written)
            raise _refuse(f"it is corrupt ({err})") from None
        except BaseException:
            _remove(written)
            raise
    return written


def _remove(written: list[Any]) -> None:
    for path in written:
        with contextlib.suppress(OSError):
            path.unlink()
