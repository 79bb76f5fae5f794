"""Session downloads (zipped), uploads, and extension archives."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# Chromium's names for downloads still in progress.
_PARTIAL = (".crdownload", ".tmp")
# Bytes of a file name on Linux file systems (NAME_MAX).
MAX_NAME_BYTES = 255


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
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise UnsafeNameError(
            f"file name {name[:40]!r}... is too long: at most {MAX_NAME_BYTES} bytes (UTF-8), got "
            f"{len(name.encode('utf-8', 'surrogatepass'))}"
        )
    target = (folder / name).resolve()
    if target.parent != folder.resolve():
        raise UnsafeNameError(f"file name {filename!r} is not allowed: it leaves the uploads folder")
    return target


class InvalidExtensionError(ValueError):
    """Raised for an upload that is not a zipped, unpacked Chromium extension."""


@dataclass(frozen=True)
class ArchiveLimits:
    """
    Bounds on an extension zip's contents (a zip bomb unpacks a few KB into gigabytes).

    :param max_unpacked: Bytes the entries may unpack to, all together.
    :param max_entries: Entries (files and folders) the zip may hold.
    """

    max_unpacked: int
    max_entries: int


def unpack_extension(archive_path: Path, target: Path, limits: ArchiveLimits) -> None:
    """Validate an extension zip and unpack it into ``target`` (which must not exist)."""
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise InvalidExtensionError("the file is not a zip archive") from None
    with archive:
        infos = archive.infolist()
        _check_entries(infos, limits)
        names = [info.filename for info in infos]
        # Accept manifest.json at the root or inside one top-level folder (how zip tools package a folder).
        prefix = ""
        if "manifest.json" not in names:
            roots = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts}
            if len(roots) == 1 and f"{next(iter(roots))}/manifest.json" in names:
                prefix = f"{next(iter(roots))}/"
            else:
                raise InvalidExtensionError("the zip has no manifest.json at its root")
        manifest_info = archive.getinfo(f"{prefix}manifest.json")
        if manifest_info.file_size > MAX_MANIFEST_BYTES:
            raise InvalidExtensionError("manifest.json is larger than 1 MiB")
        try:
            manifest = json.loads(archive.read(manifest_info).decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InvalidExtensionError("manifest.json is not valid JSON") from None
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
            raise InvalidExtensionError(f"manifest.json cannot be read: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("manifest_version") not in (2, 3):
            raise InvalidExtensionError("manifest.json needs manifest_version 2 or 3")
        if not isinstance(manifest.get("name"), str) or not isinstance(manifest.get("version"), str):
            raise InvalidExtensionError("manifest.json needs string 'name' and 'version'")
        target.mkdir(parents=True)
        try:
            _extract(archive, infos, prefix, target, limits.max_unpacked)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise


MAX_MANIFEST_BYTES = 2**20


def _check_entries(infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    """Refuse, before writing anything: too many entries, too large a total, unsafe or clashing names."""
    if len(infos) > limits.max_entries:
        raise InvalidExtensionError(
            f"the zip holds {len(infos)} entries, more than {limits.max_entries} (--max-extension-files)"
        )
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_unpacked:
        raise InvalidExtensionError(
            f"the zip unpacks to {declared} bytes, more than {limits.max_unpacked} (--max-extension-unpacked)"
        )
    files: set[str] = set()
    folders: set[str] = set()
    for info in infos:
        name = info.filename
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or "\x00" in name:
            raise InvalidExtensionError(f"the zip entry {name!r} would leave the extension folder")
        if any(len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for part in parts):
            raise InvalidExtensionError(f"the zip entry {name[:60]!r}... has a name longer than 255 bytes")
        path = "/".join(parts)
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        if not info.is_dir():
            if path in files:
                raise InvalidExtensionError(f"the zip holds {name!r} twice")
            files.add(path)
    clash = files & folders
    if clash:
        raise InvalidExtensionError(f"the zip entry {sorted(clash)[0]!r} is both a file and a folder")


def _extract(
    archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], prefix: str, target: Path, budget: int
) -> None:
    """Write the files under ``prefix``; count real bytes, as an entry's declared size can lie."""
    written = 0
    for info in infos:
        if not info.filename.startswith(prefix) or info.is_dir():
            continue
        destination = target / info.filename[len(prefix) :]
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, destination.open("wb") as sink:
                while chunk := source.read(COPY_CHUNK):
                    written += len(chunk)
                    if written > budget:
                        raise InvalidExtensionError(
                            f"the zip unpacks to more than {budget} bytes (--max-extension-unpacked)"
                        )
                    sink.write(chunk)
        except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as exc:
            # Corrupt data, a bad CRC, an unsupported compression or an encrypted entry.
            raise InvalidExtensionError(f"the zip entry {info.filename!r} cannot be read: {exc}") from None
        except OSError as exc:
            raise InvalidExtensionError(f"the zip entry {info.filename!r} cannot be written: {exc}") from None


COPY_CHUNK = 2**20
