"""
Apply a session's settings to its browser for the whole session, on a CDP connection of the server's own.

The agent auto-attaches to every page target (the first tab, new tabs, popups, pages of other browser
contexts) with ``waitForDebuggerOnStart``, so a new page gets its viewport and user agent before any of
its script runs, then lets it run. CDP overrides last while the CDP session that set them is attached,
which is why the agent's connection stays open until the session ends. Requests are policed with the
Fetch domain on the same browser-level connection (see ``local/netpolicy.py``); certificate errors are
ignored browser-wide with ``Security.setIgnoreCertificateErrors``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_browserbase.local.cdp import CdpError
from airflow_provider_browserbase.local.emulation import apply_profile, chrome_version, device_profile
from airflow_provider_browserbase.local.recording import SessionRecorder
from airflow_provider_browserbase.local.upstream_proxy import SessionProxy

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from airflow_provider_browserbase.local.cdp import CdpConnection
    from airflow_provider_browserbase.local.chromium import BrowserProcess
    from airflow_provider_browserbase.local.emulation import DeviceProfile
    from airflow_provider_browserbase.local.netpolicy import NetworkPolicy
    from airflow_provider_browserbase.local.session_settings import SettingsPlan

log = logging.getLogger(__name__)

SETUP_TIMEOUT = 15.0


class SettingsAgent:
    """
    Keeps every page of one browser set up as ``profile`` and ``policy`` say.

    :param conn: The agent's own browser-level CDP connection.
    :param profile: What each page presents (viewport, user agent, ...).
    :param policy: Which requests are refused.
    :param label: How logs name the session.
    """

    def __init__(
        self, conn: CdpConnection, profile: DeviceProfile, policy: NetworkPolicy, label: str
    ) -> None:
        self.conn = conn
        self.profile = profile
        self.policy = policy
        self.label = label
        self.page_ids: set[str] = set()
        # Attached page sessions and the identifier of the platform script each got.
        self.pages: dict[str, str | None] = {}
        self.refused = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.version: dict[str, Any] = {}
        self._remove_listener = conn.add_listener(self._on_event)

    @classmethod
    async def start(
        cls,
        browser: BrowserProcess,
        plan: SettingsPlan,
        policy: NetworkPolicy,
        label: str,
    ) -> SettingsAgent:
        """Connect to ``browser`` and set up every page it has and will have; close on failure."""
        conn = await browser.open_cdp()
        try:
            version = await conn.send("Browser.getVersion")
            agent = cls(conn, _profile(version, plan), policy, label)
            agent.version = version
            await asyncio.wait_for(agent._setup(plan), SETUP_TIMEOUT)
        except BaseException:
            await conn.close()
            raise
        return agent

    async def reconfigure(self, plan: SettingsPlan, policy: NetworkPolicy, label: str) -> None:
        """
        Switch an agent set up for the default settings (a pre-started browser's) to a session's.

        Only what differs from the default is sent, so a session with default settings costs nothing.
        """
        self.label = label
        profile = _profile(self.version, plan)
        calls: list[Awaitable[None]] = []
        if profile != self.profile:
            self.profile = profile
            calls.extend(self._configure(session_id, waiting=False) for session_id in list(self.pages))
        if policy != self.policy:
            self.policy = policy
            calls.append(self._enable_policy())
        if plan.ignore_certificate_errors:
            calls.append(self._ignore_certificate_errors())
        await asyncio.wait_for(asyncio.gather(*calls), SETUP_TIMEOUT)

    async def _enable_policy(self) -> None:
        if self.policy.active:
            await self.conn.send("Fetch.enable", {"patterns": self.policy.fetch_patterns()})
        else:
            await self.conn.send("Fetch.disable")

    async def _ignore_certificate_errors(self) -> None:
        await self.conn.send("Security.setIgnoreCertificateErrors", {"ignore": True})

    async def _setup(self, plan: SettingsPlan) -> None:
        send = self.conn.send
        if plan.ignore_certificate_errors:
            await self._ignore_certificate_errors()
        if self.policy.active:
            await self._enable_policy()
        await send("Target.setDiscoverTargets", {"discover": True})
        await send(
            "Target.setAutoAttach",
            {
                "autoAttach": True,
                "waitForDebuggerOnStart": True,
                "flatten": True,
                "filter": [{"type": "page", "exclude": False}, {"exclude": True}],
            },
        )
        # The pages that already exist were attached before that answer: finish setting them up.
        await asyncio.sleep(0)
        while pending := [t for t in self._tasks if not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        self._remove_listener()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.conn.close()

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_event(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        params = message.get("params") or {}
        if message.get("sessionId"):
            return  # events of the attached pages: the agent enables no domain there
        if method == "Fetch.requestPaused":
            self._spawn(self._decide(params))
        elif method == "Target.attachedToTarget":
            info = params.get("targetInfo", {})
            if info.get("type") == "page":
                self.page_ids.add(info.get("targetId", ""))
                self._spawn(self._configure(params["sessionId"], bool(params.get("waitingForDebugger"))))
        elif method in ("Target.targetCreated", "Target.targetInfoChanged"):
            info = params.get("targetInfo", {})
            if info.get("type") == "page":
                self.page_ids.add(info.get("targetId", ""))
        elif method == "Target.targetDestroyed":
            self.page_ids.discard(params.get("targetId", ""))
        elif method == "Target.detachedFromTarget":
            self.pages.pop(params.get("sessionId", ""), None)

    async def _configure(self, session_id: str, waiting: bool) -> None:
        # A waiting page is let run in the same batch as its overrides, never after their answers: see
        # apply_profile (a tab opened without an opener would otherwise wait for good, and stay blank).
        try:
            earlier = self.pages.get(session_id)
            self.pages[session_id] = await apply_profile(
                self.conn, session_id, self.profile, earlier, resume=waiting
            )
        except CdpError as exc:
            # A page closed while it was being set up; nothing to do for it.
            log.debug("Session %s: setting up a page failed: %s", self.label, exc)
            if waiting:  # in case the batch failed before its last command was sent; twice is harmless
                with contextlib.suppress(CdpError):
                    await self.conn.send("Runtime.runIfWaitingForDebugger", session_id=session_id)

    async def _decide(self, params: dict[str, Any]) -> None:
        request_id = params.get("requestId")
        request = params.get("request", {})
        main_frame = params.get("frameId") in self.page_ids
        try:
            reason = self.policy.refuses(request.get("url", ""), params.get("resourceType", ""), main_frame)
            if reason is None:
                await self.conn.send("Fetch.continueRequest", {"requestId": request_id})
                return
            self.refused += 1
            log.debug("Session %s: refused a request: %s", self.label, reason)
            await self.conn.send(
                "Fetch.failRequest", {"requestId": request_id, "errorReason": "BlockedByClient"}
            )
        except CdpError as exc:
            log.debug("Session %s: answering a paused request failed: %s", self.label, exc)


def _profile(version: dict[str, Any], plan: SettingsPlan) -> DeviceProfile:
    return device_profile(
        chrome_version(version.get("product", "")), plan.os, plan.viewport, version.get("userAgent", "")
    )


async def prepare_pooled_browser(browser: BrowserProcess) -> SettingsAgent:
    """Set a pre-started browser up with the default settings, so taking it for a session costs nothing."""
    from airflow_provider_browserbase.local.netpolicy import NetworkPolicy
    from airflow_provider_browserbase.local.session_settings import SettingsPlan

    return await SettingsAgent.start(browser, SettingsPlan(), NetworkPolicy(), "pool")


class AppliedSettings:
    """
    Everything a session runs to apply its settings: the forwarding proxy (if any) and the agent.

    Use: ``await prepare()`` before the browser starts (its launch flags), ``await attach(browser)`` once it
    runs, ``await close()`` when the session ends.

    :param plan: The session's settings.
    :param blocked_hosts: The server's ad block list.
    :param label: How logs name the session.
    """

    def __init__(self, plan: SettingsPlan, blocked_hosts: frozenset[str], label: str = "") -> None:
        self.plan = plan
        self.policy = plan.network_policy(blocked_hosts)
        self.label = label
        self.proxy: SessionProxy | None = None
        self.agent: SettingsAgent | None = None
        self.recorder: SessionRecorder | None = None

    @property
    def proxy_bytes(self) -> int:
        return self.proxy.bytes_through_proxies if self.proxy is not None else 0

    async def prepare(self) -> tuple[str, ...]:
        """Start what must exist before Chromium; return the launch flags it needs."""
        if not self.plan.proxy_routes:
            return ()
        self.proxy = SessionProxy(self.plan.proxy_routes, self.label)
        await self.proxy.start()
        return self.proxy.launch_args

    async def attach(self, browser: BrowserProcess, prepared: SettingsAgent | None = None) -> None:
        """Apply the settings to ``browser``, reusing the agent a pre-started browser came with."""
        if self.proxy is not None:
            self.proxy.owner_pgid = lambda: browser.pid
        if prepared is not None:
            self.agent = prepared
            await prepared.reconfigure(self.plan, self.policy, self.label)
        else:
            self.agent = await SettingsAgent.start(browser, self.plan, self.policy, self.label)
        if self.plan.record_session:
            # On the agent's connection: it is attached to every page already (see local/recording.py).
            self.recorder = SessionRecorder(self.agent.conn, browser.directory / "recording", self.label)
            await asyncio.wait_for(self.recorder.record_attached(list(self.agent.pages)), SETUP_TIMEOUT)

    async def close(self) -> None:
        if self.recorder is not None:
            await self.recorder.stop()
        if self.agent is not None:
            with contextlib.suppress(Exception):
                await self.agent.close()
        if self.proxy is not None:
            await self.proxy.close()
