"""Runs last in this folder: nothing the local-server tests started may outlive them."""

from __future__ import annotations

import time
from pathlib import Path

from local_helpers import STARTED_DIRS


def _live_processes_naming(folders: list[Path]) -> dict[int, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue
        for folder in folders:
            if str(folder).encode() in cmdline:
                found[int(entry.name)] = str(folder)
    return found


def test_no_chromium_or_session_folder_is_left_behind() -> None:
    assert STARTED_DIRS, "the other tests in tests/local should have started servers"
    deadline = time.monotonic() + 10
    while True:
        processes = _live_processes_naming(STARTED_DIRS)
        folders = [str(d) for d in STARTED_DIRS if d.exists() or list(d.parent.glob(f"{d.name}*-*"))]
        if not (processes or folders) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert processes == {}
    assert folders == []
