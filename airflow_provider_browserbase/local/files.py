"""Session downloads (zipped), uploads, and extension archives."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path, PurePosixPath

# Chromium's names for downloads still in progress.
_PARTIAL = (".crdownload", ".tmp")
MAX_EXTENSION_BYTES = 50 * 2**20


class UnsafeNameError(ValueError):
    """Raised for an upload name that would leave the session's folder."""


def stamped_name(path: Path) -> str:
    """``report.pdf`` finished at epoch ms 1719265797164 -> ``report-1719265797164.pdf``, as Browserbase."""
    millis = int(path.stat().st_mtime * 1000)
    name = path.name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return f"{name}-{millis}"
    return f"{stem}-{millis}.{ext}"


def zip_downloads(folder: Path) -> bytes:
    """Zip the finished downloads; with none, the result is the 22-byte empty archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.is_file() and not path.name.endswith(_PARTIAL):
                    archive.write(path, stamped_name(path))
    return buffer.getvalue()


def safe_upload_path(folder: Path, filename: str) -> Path:
    """
    Return where an upload named ``filename`` is stored inside ``folder``.

    Only a plain file name is accepted: separators, ``..`` and hidden-dot tricks are refused rather
    than silently rewritten, so a client learns its path would not be where it expects.
    """
    name = filename.strip()
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or PurePosixPath(name).name != name
    ):
        raise UnsafeNameError(f"file name {filename!r} is not allowed: give a plain name without folders")
    target = (folder / name).resolve()
    if target.parent != folder.resolve():
        raise UnsafeNameError(f"file name {filename!r} is not allowed: it leaves the uploads folder")
    return target


class InvalidExtensionError(ValueError):
    """Raised for an upload that is not a zipped, unpacked Chromium extension."""


def unpack_extension(data: bytes, target: Path) -> None:
    """Validate an extension zip and unpack it into ``target`` (which must not exist)."""
    if len(data) > MAX_EXTENSION_BYTES:
        raise InvalidExtensionError("the extension zip is larger than 50 MiB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InvalidExtensionError("the file is not a zip archive") from None
    with archive:
        names = archive.namelist()
        for name in names:
            parts = PurePosixPath(name).parts
            if name.startswith("/") or ".." in parts:
                raise InvalidExtensionError(f"the zip entry {name!r} would leave the extension folder")
        # Accept manifest.json at the root or inside one top-level folder (how zip tools package a folder).
        prefix = ""
        if "manifest.json" not in names:
            roots = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts}
            if len(roots) == 1 and f"{next(iter(roots))}/manifest.json" in names:
                prefix = f"{next(iter(roots))}/"
            else:
                raise InvalidExtensionError("the zip has no manifest.json at its root")
        try:
            manifest = json.loads(archive.read(f"{prefix}manifest.json").decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError):
            raise InvalidExtensionError("manifest.json is not valid JSON") from None
        if not isinstance(manifest, dict) or manifest.get("manifest_version") not in (2, 3):
            raise InvalidExtensionError("manifest.json needs manifest_version 2 or 3")
        if not isinstance(manifest.get("name"), str) or not isinstance(manifest.get("version"), str):
            raise InvalidExtensionError("manifest.json needs string 'name' and 'version'")
        target.mkdir(parents=True)
        try:
            for info in archive.infolist():
                if not info.filename.startswith(prefix) or info.is_dir():
                    continue
                relative = info.filename[len(prefix) :]
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, destination.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
        except Exception:
            shutil.rmtree(target, ignore_errors=True)
            raise
