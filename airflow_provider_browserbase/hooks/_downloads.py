"""Reading the downloads zip of a session: counting its files and extracting them safely."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path, PurePosixPath

from airflow_provider_browserbase.exceptions import BrowserbaseError

EMPTY_ZIP_SIZE = 22  # an archive with no entries is its end-of-central-directory record alone


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


def extract_files(data: bytes, destination: str | Path) -> list[Path]:
    """
    Extract the files of a downloads zip into ``destination`` (created if missing).

    Every name is checked before anything is written: absolute names, ``..`` and symbolic links are
    refused (zip slip), so a hostile archive writes nothing.
    """
    target = Path(destination).resolve()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = _file_entries(archive)
        for info in entries:
            reason = _unsafe_reason(info)
            if reason is None and not (target / info.filename).resolve().is_relative_to(target):
                reason = "resolves outside the destination"
            if reason:
                raise BrowserbaseError(
                    f"Refusing to extract downloads archive entry {info.filename!r}: {reason}"
                )
        target.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for info in entries:
            path = target / info.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, path.open("wb") as sink:
                while chunk := source.read(1 << 20):
                    sink.write(chunk)
            written.append(path)
    return written
