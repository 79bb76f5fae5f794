"""
A watchdog process that ends a task's ``keep_alive`` session when the task process dies without cleaning up.

A ``keep_alive`` session survives its client's disconnect, so when the kernel kills the task process (the
OOM killer, ``kill -9``) it keeps running, and with no retry left Airflow runs no callback for the task
either (see :mod:`airflow_provider_browserbase.callbacks`). The guard closes that gap: a small Python
process using only the standard library (about 20 ms to start, no Airflow import), started in a session
of its own so that signals to the task's process group do not reach it. It reads its orders on stdin:

- the first line: the API's base URL, key and project (through the pipe, never in argv or the
  environment, which other users' ``ps`` could read);
- ``{"watch": id}`` / ``{"release": id}``: a session to end should the task die / one no longer to watch;
- ``{"done": true}``: the task finished its own clean-up; the guard exits without a request.

End of input without ``done`` means the task process is gone (the kernel closes the pipe's write end with
it): the guard ends every watched session (``REQUEST_RELEASE``, three tries) and exits. When the whole
machine or container goes, the guard goes too; the failure callback run by the DAG processor after the
heartbeat timeout covers that case.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

log = logging.getLogger(__name__)

#: In the guard's command line, so that people (and tests) can tell what the process is.
GUARD_MARKER = "browserbase-session-guard"

_GUARD_SCRIPT = r"""
import json, sys, time, urllib.error, urllib.request

config = json.loads(sys.stdin.readline() or "null")
if not config:
    sys.exit(0)
watched = []
for line in sys.stdin:
    order = json.loads(line)
    if order.get("done"):
        sys.exit(0)
    if order.get("watch"):
        watched.append(order["watch"])
    if order.get("release") in watched:
        watched.remove(order["release"])
body = {"status": "REQUEST_RELEASE"}
if config.get("project_id"):
    body["projectId"] = config["project_id"]
headers = {"X-BB-API-Key": config["api_key"], "Content-Type": "application/json",
           "User-Agent": "airflow-provider-browserbase session guard"}
for session_id in watched:
    for attempt in range(3):
        request = urllib.request.Request(config["base_url"] + "/v1/sessions/" + session_id,
                                         data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            urllib.request.urlopen(request, timeout=30).read()
            print("ended Browserbase session", session_id, "after its task process died", flush=True)
            break
        except urllib.error.HTTPError as err:
            if err.code < 500 and err.code not in (408, 409, 429):
                break
        except OSError:
            pass
        time.sleep(1 + 2 * attempt)
"""


class SessionGuard:
    """The task's side of one guard process; every method is best effort and never raises."""

    def __init__(self, process: subprocess.Popen[bytes] | None) -> None:
        self.process = process

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def _send(self, order: dict[str, Any]) -> None:
        if self.process is None or self.process.stdin is None:
            return
        try:
            self.process.stdin.write(json.dumps(order).encode() + b"\n")
            self.process.stdin.flush()
        except OSError:
            log.warning("The Browserbase session guard (pid %s) is gone", self.process.pid, exc_info=True)
            self.process = None

    def watch(self, session_id: str) -> None:
        """End ``session_id`` should this process die before :meth:`done`."""
        self._send({"watch": session_id})

    def release(self, session_id: str) -> None:
        """Stop watching ``session_id`` (it is ended, or meant to outlive the task)."""
        self._send({"release": session_id})

    def done(self) -> None:
        """The task cleaned up: let the guard exit without a request, and reap it."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.write(b'{"done": true}\n')
                process.stdin.close()
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            log.warning("The Browserbase session guard (pid %s) did not stop; killing it", process.pid)
            process.kill()
            process.wait()


def start_guard(hook: BrowserbaseHook) -> SessionGuard:
    """Start a guard for sessions of ``hook``'s connection; a guard that cannot start is logged, not fatal."""
    try:
        settings = hook.conn_settings
        process = subprocess.Popen(
            [sys.executable, "-I", "-c", _GUARD_SCRIPT, GUARD_MARKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # out of the task's process group: a group signal must not reach it
            close_fds=True,
        )
    except Exception:
        log.warning("Could not start the Browserbase session guard", exc_info=True)
        return SessionGuard(None)
    guard = SessionGuard(process)
    guard._send(
        {"base_url": settings.base_url, "api_key": settings.api_key, "project_id": settings.project_id}
    )
    return guard


@contextmanager
def session_guard(hook: BrowserbaseHook, enabled: bool = True) -> Iterator[SessionGuard]:
    """A guard for the block's sessions (a no-op one when not ``enabled``); stopped on every way out."""
    guard = start_guard(hook) if enabled else SessionGuard(None)
    try:
        yield guard
    finally:
        guard.done()
