"""
Where the hook writes files (downloads, recordings): a local folder or an object-storage path.

An ``ObjectStoragePath`` is a ``pathlib.Path`` subclass under universal-pathlib 0.2 (Airflow 3.1's), so
``isinstance(destination, Path)`` cannot tell the two apart: treating it as local turned
``s3://bucket/prefix`` into the local folder ``/bucket/prefix``, and the task succeeded with nothing in the
bucket. Object-storage paths carry a ``protocol``; ``pathlib`` paths do not.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath


def is_local(path: object) -> TypeGuard[Path]:
    """Whether ``path`` is a plain ``pathlib`` path (not an object-storage one, even a ``file://`` one)."""
    return isinstance(path, Path) and not hasattr(path, "protocol")


def destination_path(destination: str | Path | ObjectStoragePath) -> Any:
    """
    ``destination`` as a path to write under: a resolved local ``Path``, or an ``ObjectStoragePath``.

    A string with a scheme (``s3://...``, ``file://...``) is an ``ObjectStoragePath``; any other string is
    a local folder. An object-storage path is returned as it is.
    """
    if isinstance(destination, str):
        if "://" in destination:
            from airflow.sdk import ObjectStoragePath

            return ObjectStoragePath(destination)
        return Path(destination).resolve()
    if is_local(destination):
        return Path(destination).resolve()
    return destination
