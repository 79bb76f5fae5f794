"""The registry of a local server: starts sessions, and ends them by Browserbase's rules."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import secrets
import shutil
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

from airflow_provider_browserbase.local import contexts as context_files
from airflow_provider_browserbase.local.chromium import BrowserProcess, make_session_dir
from airflow_provider_browserbase.local.netpolicy import load_block_list
from airflow_provider_browserbase.local.records import (
    BrowserStartError,
    ConflictError,
    Context,
    Extension,
    LimitExceededError,
    NotFoundError,
    Session,
    utcnow,
)
from airflow_provider_browserbase.local.session_settings import SettingsPlan, not_applied_log_entry
from airflow_provider_browserbase.local.settings_agent import AppliedSettings, SettingsAgent

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_browserbase.local.config import LocalConfig
    from airflow_provider_browserbase.local.pool import BrowserPool
    from airflow_provider_browserbase.local.records import ClientConnection

log = logging.getLogger(__name__)

# Ended sessions whose CDP logs are kept; older ones drop theirs, so memory stays bounded on a long run.
ENDED_WITH_LOGS = 100
# A slot of a count limit frees only when something is deleted: an immediate retry cannot succeed.
_NO_RETRY = {"x-should-retry": "false"}
# Kept after a session ends, until its retention passes: Browserbase serves downloads and recordings
# (the frames, and the MP4s assembled from them) after the end.
KEPT_AFTER_END = ("downloads", "recording")


def _prune_ended_dir(directory: Path) -> None:
    """Keep only an ended session's downloads and recording (if any); no empty folders are left."""
    kept = [directory / name for name in KEPT_AFTER_END]
    if not any(folder.is_dir() and any(folder.iterdir()) for folder in kept):
        shutil.rmtree(directory, ignore_errors=True)
        return
    for child in directory.iterdir():
        if child.name not in KEPT_AFTER_END:
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


class Registry:
    """
    Owns every session, context and extension, and ends sessions by the Browserbase rules.

    A session is RUNNING while its browser lives. It ends COMPLETED when released, when its last CDP
    client disconnects (unless ``keepAlive``), or when nobody connected within the connect deadline;
    TIMED_OUT at ``expiresAt``; ERROR when its browser dies on its own. The first two are releases:
    with ``release_delay`` the session stays RUNNING (browser and clients included) that long first.

    :param config: Server settings.
    :param executable: Chromium executable, ``None`` in ``--no-browser`` mode.
    :param pool: Pre-started browsers, if any.
    """

    def __init__(self, config: LocalConfig, executable: str | None, pool: BrowserPool | None = None) -> None:
        self.config = config
        self.executable = executable
        self.pool = pool
        self.sessions: dict[str, Session] = {}
        self.contexts: dict[str, Context] = {}
        self.extensions: dict[str, Extension] = {}
        self._creations: deque[float] = deque()
        self._starting = 0
        self._closed = False
        # Ended sessions in the order they ended: pruning pops from the left, O(1) per session end.
        self._ended: deque[Session] = deque()
        self._ended_with_logs: deque[Session] = deque()
        self._retained: deque[Session] = deque()  # ended, files and logs not yet dropped
        self._retention_wakeup = asyncio.Event()
        self._retention_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.blocked_hosts = load_block_list(config.adblock_list)

    # limits

    def live_sessions(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.live]

    def check_limits(self) -> None:
        """Raise :class:`LimitExceededError` when a new session would pass either limit."""
        now = time.monotonic()
        limit = self.config.max_sessions
        live = self.live_sessions()
        if len(live) + self._starting >= limit:
            ends = [(s.expires_at - utcnow()).total_seconds() for s in live]
            reset = max(1, math.ceil(min(ends))) if ends else 1
            raise LimitExceededError(
                f"You've exceeded your max concurrent sessions limit (limit {limit}, "
                f"currently {len(live) + self._starting})",
                {
                    "x-ratelimit-limit": str(limit),
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": str(reset),
                    "retry-after": str(reset),
                    # A slot frees only when a session ends: an immediate retry cannot succeed.
                    "x-should-retry": "false",
                },
            )
        per_minute = self.config.creations_per_minute
        if per_minute is not None:
            while self._creations and now - self._creations[0] >= 60:
                self._creations.popleft()
            if len(self._creations) >= per_minute:
                reset = max(1, math.ceil(60 - (now - self._creations[0])))
                raise LimitExceededError(
                    f"You've exceeded your session creation rate limit (limit {per_minute} per minute)",
                    {
                        "x-ratelimit-limit": str(per_minute),
                        "x-ratelimit-remaining": "0",
                        "x-ratelimit-reset": str(reset),
                        "retry-after": str(reset),
                    },
                )

    # sessions

    def get_session(self, session_id: str) -> Session:
        try:
            return self.sessions[session_id]
        except KeyError:
            raise NotFoundError(f"Session {session_id} not found") from None

    async def create_session(
        self,
        *,
        keep_alive: bool,
        region: str,
        timeout: int | None,
        user_metadata: dict[str, Any] | None,
        context_id: str | None,
        persist: bool,
        extension_id: str | None,
        log_cdp: bool = True,
        settings: SettingsPlan | None = None,
    ) -> Session:
        """Start a session (and its browser, set up as ``settings`` say); raise on limits, unknown ids or a
        failed browser."""
        if self._closed:
            raise BrowserStartError("The server is shutting down")
        context = self.get_context(context_id) if context_id else None
        extension = self.get_extension(extension_id) if extension_id else None
        self.check_limits()
        plan = settings or SettingsPlan(log_session=log_cdp)
        session_id = str(uuid.uuid4())
        applied = AppliedSettings(plan, self.blocked_hosts, session_id) if self.executable else None
        self._starting += 1
        try:
            browser, directory = await self._start_browser(context, extension, applied)
        finally:
            self._starting -= 1
        self._creations.append(time.monotonic())
        lifetime = (timeout or self.config.default_timeout) * self.config.timeout_scale
        now = utcnow()
        session = Session(
            id=session_id,
            project_id=self.config.project_id,
            signing_key=secrets.token_urlsafe(32),
            directory=directory,
            keep_alive=keep_alive,
            region=region,
            timeout=lifetime,
            user_metadata=user_metadata,
            context_id=context_id,
            persist=persist,
            extension_id=extension_id,
            log_cdp=plan.log_session,
            created_at=now,
            started_at=now,
            updated_at=now,
            expires_at=now + dt.timedelta(seconds=lifetime),
            status="RUNNING",
            browser=browser,
        )
        session.logs = deque(maxlen=self.config.log_limit)
        session.settings = applied
        if plan.not_applied:
            log.warning("Session %s: %s", session.id, plan.not_applied_text())
            if session.log_cdp:
                session.logs.append(not_applied_log_entry(session.id, plan))
        self.sessions[session.id] = session
        loop = asyncio.get_running_loop()
        session.tasks.append(loop.create_task(self._expire(session)))
        session.tasks.append(loop.create_task(self._connect_deadline(session)))
        if browser is not None:
            session.tasks.append(loop.create_task(self._watch_browser(session, browser)))
        log.info("Session %s started (keepAlive=%s, lifetime %.0f s)", session.id, keep_alive, lifetime)
        return session

    async def _start_browser(
        self, context: Context | None, extension: Extension | None, applied: AppliedSettings | None
    ) -> tuple[BrowserProcess | None, Path]:
        base = self.config.data_dir
        if self.executable is None or applied is None:
            return None, make_session_dir(base)
        try:
            launch_args = await applied.prepare()
        except OSError as exc:
            raise BrowserStartError(f"The session's proxy could not start: {exc}") from exc
        # A pre-started browser has its flags already: settings needing flags of their own get a new one.
        if context is None and extension is None and not launch_args and self.pool is not None:
            pooled = await self.pool.take()
            if pooled is not None:
                await self._apply_settings(applied, pooled, self.pool.prepared.pop(pooled, None))
                return pooled, pooled.directory
        directory = make_session_dir(base)
        extra: tuple[str, ...] = launch_args
        if extension is not None:
            extra += (
                f"--load-extension={extension.directory}",
                f"--disable-extensions-except={extension.directory}",
            )
        browser = BrowserProcess(self.executable, directory, extra)
        try:
            if context is not None:
                await context.idle.wait()
                await asyncio.to_thread(
                    context_files.restore_profile, context.directory, directory / "profile"
                )
            await browser.start()
            if context is not None:
                await context_files.restore_cookies(context.directory, browser)
        except Exception as exc:
            await browser.kill()
            browser.remove_files()
            await applied.close()
            log.warning("Chromium failed to start: %s", exc)
            raise BrowserStartError(f"The browser failed to start: {exc}") from exc
        await self._apply_settings(applied, browser)
        return browser, directory

    async def _apply_settings(
        self, applied: AppliedSettings, browser: BrowserProcess, prepared: SettingsAgent | None = None
    ) -> None:
        """Set the session's settings up on its browser; on failure stop it and raise."""
        try:
            await applied.attach(browser, prepared)
        except Exception as exc:
            await applied.close()
            await browser.kill()
            browser.remove_files()
            log.warning("Setting up the session's browser failed: %s", exc)
            raise BrowserStartError(f"The browser's settings could not be applied: {exc}") from exc

    async def _expire(self, session: Session) -> None:
        await asyncio.sleep(max(0.0, (session.expires_at - utcnow()).total_seconds()))
        self.end_session(session, "TIMED_OUT", "its timeout passed")

    async def _connect_deadline(self, session: Session) -> None:
        await asyncio.sleep(self.config.connect_deadline)
        if not session.ever_connected:
            # Browserbase terminates sessions nobody connected to; the status it reports is not
            # documented. COMPLETED is used: nothing failed, the session simply went unused.
            self.end_session(session, "COMPLETED", "nobody connected within the connect deadline")

    async def _watch_browser(self, session: Session, browser: BrowserProcess) -> None:
        assert browser.process is not None
        code = await browser.process.wait()
        self.end_session(session, "ERROR", f"its browser exited with code {code}")

    def client_connected(self, session: Session, client: ClientConnection) -> None:
        session.clients.add(client)
        session.ever_connected = True

    def client_disconnected(self, session: Session, client: ClientConnection) -> None:
        session.clients.discard(client)
        if not session.clients and not session.keep_alive:
            self.release_session(session, "its last CDP client disconnected")

    def release_session(self, session: Session, reason: str) -> None:
        """
        End the session COMPLETED, after ``release_delay`` seconds if one is set.

        Browserbase releases asynchronously: the answer to ``REQUEST_RELEASE`` may still say RUNNING and
        clients poll until the status is terminal. A release during the delay changes nothing, and so does
        one of an ended session. A timeout or a browser crash during the delay still ends it their way.
        """
        delay = self.config.release_delay
        if not session.live or session.release_requested_at is not None:
            return
        if delay <= 0:
            self.end_session(session, "COMPLETED", reason)
            return
        session.release_requested_at = utcnow()
        log.info("Session %s: release requested (%s); it ends in %.1f s", session.id, reason, delay)
        session.tasks.append(asyncio.get_running_loop().create_task(self._release_later(session, reason)))

    async def _release_later(self, session: Session, reason: str) -> None:
        await asyncio.sleep(self.config.release_delay)
        self.end_session(session, "COMPLETED", reason)

    def end_session(self, session: Session, status: str, reason: str) -> bool:
        """Mark the session ended now and tear it down in the background; False if it had ended."""
        if not session.live:
            return False
        now = utcnow()
        session.status = status
        session.ended_at = now
        session.updated_at = now
        log.info("Session %s ended %s: %s", session.id, status, reason)
        context = self.contexts.get(session.context_id) if session.context_id else None
        write_back = context is not None and session.persist and status != "ERROR"
        if write_back and context is not None:
            # Cleared synchronously, so a session created right after this release waits for the copy.
            context.idle.clear()
        current = asyncio.current_task()
        for task in session.tasks:
            if task is not current:
                task.cancel()
        session.teardown = asyncio.get_running_loop().create_task(
            self._teardown(session, context if write_back else None)
        )
        self._remember_ended(session)
        return True

    # pruning of ended sessions

    def _remember_ended(self, session: Session) -> None:
        """Bound what ended sessions keep, with O(1) work here (amortised), never a scan of all sessions."""
        self._ended_with_logs.append(session)
        while len(self._ended_with_logs) > ENDED_WITH_LOGS:
            self._ended_with_logs.popleft().logs.clear()
        self._retained.append(session)
        self._retention_wakeup.set()
        if self._retention_task is None and not self._closed:
            self._retention_task = asyncio.get_running_loop().create_task(self._drop_expired())
        self._ended.append(session)
        limit = self.config.limits.max_ended_sessions
        while len(self._ended) > limit:
            self._forget(self._ended.popleft())
        while len(self._retained) > limit:  # the same sessions, in the same order: already forgotten
            self._drop_files(self._retained.popleft())

    def _forget(self, session: Session) -> None:
        """Drop an ended session altogether: its record (404 from now on), logs and files."""
        self.sessions.pop(session.id, None)
        self._drop_files(session)

    def _drop_files(self, session: Session) -> None:
        session.logs.clear()
        if session.files_dropped:
            return
        session.files_dropped = True
        directory = session.directory
        teardown = session.teardown

        async def remove() -> None:
            if teardown is not None:
                await asyncio.wait([teardown])  # the teardown writes into the folder until it ends
            await asyncio.to_thread(shutil.rmtree, directory, True)

        task = asyncio.get_running_loop().create_task(remove())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _drop_expired(self) -> None:
        """Drop logs and downloads of sessions ended more than ``ended_retention`` seconds ago."""
        retention = self.config.limits.ended_retention
        while True:
            if not self._retained:
                self._retention_wakeup.clear()
                await self._retention_wakeup.wait()
                continue
            oldest = self._retained[0]
            assert oldest.ended_at is not None
            wait = retention - (utcnow() - oldest.ended_at).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            self._retained.popleft()
            self._drop_files(oldest)

    async def _teardown(self, session: Session, context: Context | None) -> None:
        try:
            for client in list(session.clients):
                with contextlib.suppress(Exception):
                    await client.close("session ended")
            if session.settings is not None:
                await session.settings.close()
            browser = session.browser
            if browser is None:
                return
            if context is not None and browser.alive:
                await context_files.save_cookies(context.directory, browser)
                await context_files.close_gracefully(browser)
            await browser.kill()
            if context is not None and context.id in self.contexts:
                await asyncio.to_thread(
                    context_files.save_profile, browser.directory / "profile", context.directory
                )
                context.updated_at = utcnow()
        except Exception:
            log.exception("Tearing down session %s failed", session.id)
        finally:
            if session.browser is not None:
                await asyncio.to_thread(session.browser.remove_files, KEPT_AFTER_END)
            await asyncio.to_thread(_prune_ended_dir, session.directory)
            if context is not None:
                context.idle.set()

    # contexts

    def get_context(self, context_id: str) -> Context:
        try:
            return self.contexts[context_id]
        except KeyError:
            raise NotFoundError(f"Context {context_id} not found") from None

    def create_context(self, name: str | None) -> Context:
        limit = self.config.limits.max_contexts
        if len(self.contexts) >= limit:
            raise LimitExceededError(
                f"You've reached the limit of {limit} contexts (--max-contexts); delete one first", _NO_RETRY
            )
        if name is not None:
            name = name.strip()
            taken = {c.name.casefold() for c in self.contexts.values() if c.name}
            if name.casefold() in taken:
                raise ConflictError(f"A context named {name!r} already exists")
        context_id = str(uuid.uuid4())
        directory = self.config.data_dir / "contexts" / context_id
        directory.mkdir(parents=True)
        context = Context(
            id=context_id, name=name or None, project_id=self.config.project_id, directory=directory
        )
        context.idle.set()
        self.contexts[context_id] = context
        return context

    def delete_context(self, context_id: str) -> None:
        context = self.get_context(context_id)
        del self.contexts[context_id]
        shutil.rmtree(context.directory, ignore_errors=True)

    # extensions

    def get_extension(self, extension_id: str) -> Extension:
        try:
            return self.extensions[extension_id]
        except KeyError:
            raise NotFoundError(f"Extension {extension_id} not found") from None

    def check_extension_count(self) -> None:
        """Raise :class:`LimitExceededError` when one more extension would pass ``max_extensions``."""
        limit = self.config.limits.max_extensions
        if len(self.extensions) >= limit:
            raise LimitExceededError(
                f"You've reached the limit of {limit} extensions (--max-extensions); delete one first",
                _NO_RETRY,
            )

    def add_extension(self, extension: Extension) -> None:
        self.check_extension_count()  # again: several uploads may have been checked at once
        self.extensions[extension.id] = extension

    def delete_extension(self, extension_id: str) -> None:
        extension = self.get_extension(extension_id)
        del self.extensions[extension_id]
        shutil.rmtree(extension.directory, ignore_errors=True)

    # shutdown

    async def close(self) -> None:
        """End every live session and wait until every browser is gone."""
        self._closed = True
        for session in list(self.sessions.values()):
            self.end_session(session, "COMPLETED", "the server is stopping")
        pending = [s.teardown for s in self.sessions.values() if s.teardown is not None]
        pending += list(self._background)
        if self._retention_task is not None:
            self._retention_task.cancel()
            pending.append(self._retention_task)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for session in self.sessions.values():
            shutil.rmtree(session.directory, ignore_errors=True)
        # Contexts and extensions live in memory only, so their files cannot outlive the server usefully.
        for context in self.contexts.values():
            shutil.rmtree(context.directory, ignore_errors=True)
        for extension in self.extensions.values():
            shutil.rmtree(extension.directory, ignore_errors=True)
