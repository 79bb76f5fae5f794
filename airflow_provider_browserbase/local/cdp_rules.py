"""
The one place that decides what a client's CDP command may do with the host's files.

Chromium runs as the user who started the server (often root), so every command that names a host path
or a local URL is kept inside the session: download folders become the session's ``downloads`` folder,
files given to file inputs must be inside its ``uploads`` folder (Browserbase's ``/tmp/.uploads/<name>``
maps there), and ``file:`` URLs (also as ``filesystem:`` or ``view-source:file:``) are refused unless the
server runs with ``--allow-file-urls``. A refused command gets a CDP error answer naming the reason. The
CDP proxy and the live view's page socket both apply these rules.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

UPLOADS_PREFIX = "/tmp/.uploads/"  # noqa: S108 - Browserbase's documented in-browser upload folder

# Commands that load a URL named in a parameter.
_URL_PARAMS = {
    "Page.navigate": "url",
    "Target.createTarget": "url",
    "Network.loadNetworkResource": "url",
    "PWA.install": "installUrlOrBundleUrl",
}
# Commands that would hand host paths to the browser and have no safe mapping.
_REFUSED = {
    "Extensions.loadUnpacked": "loading an extension from a host folder is not allowed; upload it with "
    "POST /v1/extensions and name it in the session's extensionId",
    "PWA.launchFilesInApp": "opening host files in an app is not allowed",
    "Target.exposeDevToolsProtocol": "it would give a page a CDP channel that bypasses these rules",
}
_DOWNLOAD_METHODS = frozenset({"Browser.setDownloadBehavior", "Page.setDownloadBehavior"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_LOCAL_SCHEMES = frozenset({"file", "filesystem"})
_TRIMMED = "".join(map(chr, range(0x21)))  # C0 controls and space


class CommandRefusedError(Exception):
    """Raised for a command the session may not send; the message says why."""


@dataclass(frozen=True)
class SessionFiles:
    """
    The folders a session's commands may use.

    :param directory: The session's folder (``downloads`` and ``uploads`` inside).
    :param allow_file_urls: Whether ``file:`` URLs may be loaded (``--allow-file-urls``).
    """

    directory: Path
    allow_file_urls: bool = False

    @property
    def downloads(self) -> Path:
        return self.directory / "downloads"

    @property
    def uploads(self) -> Path:
        return self.directory / "uploads"


def is_local_url(url: str) -> bool:
    """
    Whether ``url`` could load a host file: ``file:``, ``filesystem:``, ``view-source:file:`` ..., or a
    non-empty URL without a scheme, which ``Target.createTarget`` turns into ``file:`` when it looks like
    a path (``/etc/hostname`` opened ``file:///etc/hostname``).
    """
    # Chromium drops tabs and newlines anywhere in a URL and trims control characters and spaces.
    text = re.sub(r"[\t\n\r]", "", url).strip(_TRIMMED)
    while True:
        match = _SCHEME.match(text)
        if match is None:
            return bool(text)
        scheme = match.group(1).lower()
        if scheme in _LOCAL_SCHEMES:
            return True
        if scheme != "view-source":
            return False
        text = text[match.end() :].lstrip()


def _check_url(method: str, params: dict[str, Any], files: SessionFiles) -> None:
    url = params.get(_URL_PARAMS[method])
    if isinstance(url, str) and not files.allow_file_urls and is_local_url(url):
        raise CommandRefusedError(
            f"{method}: file: URLs (and URLs without a scheme) are not allowed: they would read the "
            "server's files; start browserbase-local with --allow-file-urls to allow them"
        )


def _upload_path(path: object, files: SessionFiles) -> str:
    if not isinstance(path, str):
        raise CommandRefusedError("file paths must be strings")
    if path.startswith(UPLOADS_PREFIX):
        path = str(files.uploads / path[len(UPLOADS_PREFIX) :])
    resolved = os.path.realpath(path)
    uploads = os.path.realpath(files.uploads)
    if os.path.commonpath([resolved, uploads]) != uploads or resolved == uploads:
        raise CommandRefusedError(
            f"file {path!r} is not one of this session's uploads: upload it with "
            f"POST /v1/sessions/{{id}}/uploads and give its path as {UPLOADS_PREFIX}<name>"
        )
    return resolved


def _map_files(method: str, container: dict[str, Any], files: SessionFiles) -> bool:
    given = container.get("files")
    if given is None:
        return False
    if not isinstance(given, list):
        raise CommandRefusedError(f"{method}: files must be a list of paths")
    try:
        mapped = [_upload_path(path, files) for path in given]
    except CommandRefusedError as exc:
        raise CommandRefusedError(f"{method}: {exc}") from None
    if mapped != given:
        container["files"] = mapped
        return True
    return False


def _downloads(method: str, params: dict[str, Any], files: SessionFiles) -> bool:
    # Every download lands in the session's own folder, whatever folder the client names: Playwright's
    # own "allowAndName" into its artifacts folder included. That call becomes "allow" so files keep
    # their names in the session's zip, as on Browserbase, whose downloads only come back in that zip;
    # Playwright still reports the download, but download.path()/save_as() find no file. "default"
    # would use the server user's own download folder, so it is mapped the same way.
    behavior = params.get("behavior")
    if behavior in ("allow", "allowAndName", "default"):
        params["behavior"] = "allow"
        params["downloadPath"] = str(files.downloads)
        return True
    if behavior != "deny":
        raise CommandRefusedError(f"{method}: behavior must be one of deny, allow, allowAndName, default")
    return False


def apply_rules(message: dict[str, Any], files: SessionFiles) -> bool:
    """
    Check one client command, rewriting it in place where a safe mapping exists.

    :param message: The parsed command.
    :param files: The session's folders and ``--allow-file-urls``.
    :return: Whether the command was changed.
    :raises CommandRefusedError: The command may not be sent; the message says why.
    """
    method = message.get("method")
    params = message.get("params")
    if not isinstance(method, str):
        return False
    if method in _REFUSED:
        raise CommandRefusedError(f"{method}: {_REFUSED[method]}")
    if not isinstance(params, dict):
        return False
    if method in _URL_PARAMS:
        _check_url(method, params, files)
        return False
    if method in _DOWNLOAD_METHODS:
        return _downloads(method, params, files)
    if method == "DOM.setFileInputFiles":
        return _map_files(method, params, files)
    if method == "Input.dispatchDragEvent" and isinstance(params.get("data"), dict):
        return _map_files(method, params["data"], files)
    if method == "Target.sendMessageToTarget" and isinstance(params.get("message"), str):
        return _inner_message(params, files)
    return False


def _inner_message(params: dict[str, Any], files: SessionFiles) -> bool:
    # The old, non-flat way to talk to a target wraps a whole command in a string. It is always encoded
    # again from what was checked (see cdp_mux._outgoing on keys given twice).
    try:
        inner = json.loads(params["message"])
    except ValueError:
        raise CommandRefusedError("Target.sendMessageToTarget: message must be a JSON command") from None
    if not isinstance(inner, dict):
        raise CommandRefusedError("Target.sendMessageToTarget: message must be a JSON command")
    apply_rules(inner, files)
    params["message"] = json.dumps(inner)
    return True
