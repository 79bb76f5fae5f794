"""
Live view: the server's own viewer of a session's pages, reached only with the session's capability.

Chromium runs without a debugging port (``cdp_mux.py``), so its DevTools frontend is not served. The
viewer (``live_assets.py``) shows one page target by ``Page.startScreencast`` and sends mouse, keyboard and
wheel input back; a tab strip switches between the session's pages. Its websocket
(``/sessions/<id>/live/ws``) is page-scoped: it accepts only the commands in :data:`ALLOWED` (the same
rules as the CDP proxy apply to ``Page.navigate``) and never reaches the browser-level protocol. A
screencast runs only while a viewer is connected and visible.

Every URL carries a token ``<expires>.<hmac>`` signed with the session's own random ``live_secret``: it
cannot be derived from the session id, and it stops working at ``expires`` (the session's end, or
``expiresIn``) and as soon as the session ends. ``GET /v1/sessions/<id>/debug`` (API key required) is the
only way to get one.

``debuggerFullscreenUrl`` (and ``/sessions/<id>/live``) open this viewer; ``debuggerUrl`` opens Chromium's
own DevTools frontend on one page (``inspector.py``), with the same token.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from airflow_provider_browserbase.local.cdp import CdpError
from airflow_provider_browserbase.local.cdp_mux import Outbox, error_answer
from airflow_provider_browserbase.local.cdp_rules import CommandRefusedError, SessionFiles, apply_rules
from airflow_provider_browserbase.local.proxy import close_backlogged, parse_command

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

    from starlette.requests import Request

    from airflow_provider_browserbase.local.cdp import CdpConnection
    from airflow_provider_browserbase.local.config import LocalConfig
    from airflow_provider_browserbase.local.records import Session
    from airflow_provider_browserbase.local.state import Registry

log = logging.getLogger(__name__)

MAX_EXPIRES_IN = 21600
# Chromium's DevTools frontend, inside every Chromium; debuggerUrl opens it on inspector.py's socket.
FRONTEND = "devtools://devtools/bundled/inspector.html"
# Forwarded to the attached page: screencast, input and navigation, nothing else.
ALLOWED = frozenset(
    {
        "Page.startScreencast",
        "Page.stopScreencast",
        "Page.screencastFrameAck",
        "Page.navigate",
        "Page.reload",
        "Input.dispatchMouseEvent",
        "Input.dispatchKeyEvent",
        "Input.insertText",
    }
)
FORWARDED_EVENTS = frozenset({"Page.screencastFrame", "Page.screencastVisibilityChanged"})
TARGET_EVENTS = frozenset({"Target.targetCreated", "Target.targetInfoChanged"})


def make_token(session: Session, expires: int) -> str:
    """A token for ``session``'s live view, valid until ``expires`` (epoch seconds) or the session's end."""
    digest = hmac.new(session.live_secret, f"{session.id}:{expires}".encode(), hashlib.sha256).hexdigest()
    return f"{expires}.{digest[:40]}"


def token_signed(session: Session, token: str) -> bool:
    """Whether ``token`` was handed out for ``session`` (expired or not)."""
    expires_text, _, _ = token.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12:
        return False
    return hmac.compare_digest(make_token(session, int(expires_text)).encode(), token.encode())


def token_valid(session: Session, token: str) -> bool:
    """Whether ``token`` opens ``session``'s live view now."""
    if not session.live or session.browser is None or not token_signed(session, token):
        return False
    return int(token.partition(".")[0]) >= time.time()


def _page_info(target: dict[str, Any]) -> dict[str, Any]:
    return {key: target.get(key, "") for key in ("targetId", "type", "title", "url")}


async def page_targets(cdp: CdpConnection) -> list[dict[str, Any]]:
    """The browser's page targets (no workers, extensions' pages or browser UI)."""
    found = (await cdp.send("Target.getTargets")).get("targetInfos", [])
    return [_page_info(t) for t in found if isinstance(t, dict) and t.get("type") == "page"]


async def list_pages(session: Session) -> list[dict[str, Any]]:
    browser = session.browser
    if browser is None or not browser.alive:
        return []
    try:
        cdp = await browser.open_cdp()
    except CdpError:
        return []
    try:
        return await page_targets(cdp)
    except CdpError as exc:
        log.warning("Session %s: listing pages failed: %s", session.id, exc)
        return []
    finally:
        await cdp.close()


def live_url(config: LocalConfig, session: Session, token: str, **extra: str) -> str:
    """The viewer page; ``page=<targetId>`` picks a page, ``fullscreen=1`` drops the status line."""
    query = urlencode({"token": token, **extra})
    return f"{config.base_url}/sessions/{quote(session.id, safe='')}/live?{query}"


def socket_url(config: LocalConfig, session: Session, token: str, **extra: str) -> str:
    query = urlencode({"token": token, **extra})
    return f"ws://{config.netloc}/sessions/{quote(session.id, safe='')}/live/ws?{query}"


def devtools_url(config: LocalConfig, session: Session, token: str, target_id: str) -> str:
    """
    The frontend's URL for one page: ``devtools://devtools/bundled/inspector.html?ws=<host:port/path>``.

    The socket's own query (``?token=``) is percent-encoded inside ``ws``: the frontend reads ``ws``
    decoded (``URLSearchParams``) and opens ``ws://`` + that value, token included.
    """
    path = f"/sessions/{quote(session.id, safe='')}/devtools/page/{quote(target_id, safe='')}"
    inner = f"{config.netloc}{path}?token={token}"
    return f"{FRONTEND}?ws={quote(inner, safe='/:')}"


async def live_urls(config: LocalConfig, session: Session, expires_in: int | None) -> dict[str, Any]:
    """Build ``SessionLiveURLs``: viewer URLs per page, valid until the session ends or ``expiresIn``."""
    until = int(session.expires_at.timestamp())
    if expires_in is not None:
        until = min(until, int(time.time()) + expires_in)
    token = make_token(session, until)
    targets = await list_pages(session)
    pages = [
        {
            "id": target["targetId"],
            "url": target["url"],
            "title": target["title"],
            "faviconUrl": "",
            "debuggerUrl": devtools_url(config, session, token, target["targetId"]),
            "debuggerFullscreenUrl": live_url(
                config, session, token, page=target["targetId"], fullscreen="1"
            ),
        }
        for target in targets
    ]
    # Browserbase's top-level debuggerUrl inspects the first page; with no page open there is nothing to
    # inspect, and the person's viewer (which shows pages as they open) is the useful answer.
    first = devtools_url(config, session, token, targets[0]["targetId"]) if targets else None
    return {
        "debuggerUrl": first or live_url(config, session, token),
        "debuggerFullscreenUrl": live_url(config, session, token, fullscreen="1"),
        "wsUrl": socket_url(config, session, token),
        "pages": pages,
    }


async def retired_route(request: Request) -> PlainTextResponse:
    """``/devtools/...`` and ``/debug/...``: never forwarded anywhere (Chromium has no port to forward to)."""
    return PlainTextResponse(
        "Chromium's DevTools frontend is not served: browserbase-local runs Chromium without a debugging "
        "port. Get the session's live-view URLs from GET /v1/sessions/{id}/debug.",
        status_code=410,
    )


class PageSocket:
    """
    One viewer's page-scoped connection: a browser-level channel of the server's, used only for one page.

    :param websocket: The accepted viewer socket.
    :param cdp: A connection from the session's ``BrowserProcess.open_cdp()``.
    :param files: The session's folders and ``--allow-file-urls`` (for ``Page.navigate``).
    :param backlog: Characters of messages that may wait for the viewer (``--max-cdp-backlog``): a viewer
        that acknowledges screencast frames without reading them would otherwise be sent frames for good.
    """

    def __init__(self, websocket: WebSocket, cdp: CdpConnection, files: SessionFiles, backlog: int) -> None:
        self.websocket = websocket
        self.cdp = cdp
        self.files = files
        self.outbox = Outbox(backlog)
        self.pages: dict[str, dict[str, Any]] = {}
        self.target_id: str | None = None
        self.page_session: str | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.started = False

    def push(self, message: dict[str, Any]) -> None:
        self.outbox.put(json.dumps(message))

    def on_event(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        params = message.get("params") or {}
        if message.get("sessionId") is not None:
            if message["sessionId"] == self.page_session and method in FORWARDED_EVENTS:
                self.push({"method": method, "params": params})
            return
        if method in TARGET_EVENTS and params.get("targetInfo", {}).get("type") == "page":
            info = _page_info(params["targetInfo"])
            self.pages[info["targetId"]] = info
            self.push({"method": method, "params": {"targetInfo": info}})
            if self.started and self.target_id is None:
                self._spawn(self.attach(info["targetId"]))
        elif method == "Target.targetDestroyed" and params.get("targetId") in self.pages:
            del self.pages[params["targetId"]]
            self.push({"method": method, "params": {"targetId": params["targetId"]}})
            if params["targetId"] == self.target_id:
                self._spawn(self.attach(None))
        elif method == "Target.detachedFromTarget" and params.get("sessionId") == self.page_session:
            self.page_session = None

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def start(self, wanted: str | None) -> None:
        self.cdp.add_listener(self.on_event)
        await self.cdp.send("Target.setDiscoverTargets", {"discover": True})
        self.pages = {t["targetId"]: t for t in await page_targets(self.cdp)}
        await self.attach(wanted)
        self.started = True

    async def attach(self, target_id: str | None) -> None:
        """Show ``target_id`` (or the first page): detach the old page, which ends its screencast."""
        if target_id not in self.pages:
            target_id = next(iter(self.pages), None)
        old, self.page_session, self.target_id = self.page_session, None, target_id
        if old is not None:
            with contextlib.suppress(CdpError):
                await self.cdp.send("Target.detachFromTarget", {"sessionId": old})
        if target_id is None:
            self.push({"method": "Target.detachedFromTarget", "params": {"targetId": None}})
            return
        attached = await self.cdp.send("Target.attachToTarget", {"targetId": target_id, "flatten": True})
        self.page_session = attached["sessionId"]
        self.push({"method": "Target.attachedToTarget", "params": {"targetInfo": self.pages[target_id]}})

    async def handle(self, command: dict[str, Any]) -> None:
        call_id, method = command.get("id"), command.get("method")
        params = command.get("params")
        if not isinstance(params, dict):
            params = command["params"] = {}
        try:
            if method == "Target.getTargets":
                # Read afresh: Chromium reports a page's new URL but not its new title (a tab opened by a
                # link keeps its URL as title in the events), and the viewer's tabs show titles.
                self.pages = {t["targetId"]: t for t in await page_targets(self.cdp)}
                result: dict[str, Any] = {"targetInfos": list(self.pages.values())}
            elif method == "Target.activateTarget":
                await self.attach(str(params.get("targetId")))
                result = {}
            elif method in ALLOWED:
                apply_rules(command, self.files)
                if self.page_session is None:
                    raise CommandRefusedError(f"{method}: the session has no open page to send it to")
                result = await self.cdp.send(method, params, session_id=self.page_session)
            else:
                raise CommandRefusedError(
                    f"{method} is not allowed on the live view: it offers screencast, input, navigation and "
                    "the session's page list only (use the session's connectUrl for anything else)"
                )
        except (CommandRefusedError, CdpError) as exc:
            self.outbox.put(error_answer(call_id, str(exc)))
            return
        self.push({"id": call_id, "result": result})

    async def receive(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                continue
            command, refused = parse_command(text)
            if command is None:
                self.outbox.put(refused)
                continue
            self._spawn(self.handle(command))


async def live_socket(websocket: WebSocket) -> None:
    """Serve ``/sessions/<id>/live/ws?token=...[&page=<targetId>]``: the viewer's page-scoped socket."""
    registry: Registry = websocket.app.state.registry
    session = registry.sessions.get(websocket.path_params["session_id"])
    token = websocket.query_params.get("token", "")
    if session is None or not token_valid(session, token) or session.browser is None:
        await websocket.send_denial_response(PlainTextResponse("invalid or expired live-view URL", 401))
        return
    try:
        cdp = await session.browser.open_cdp()
    except CdpError:
        await websocket.send_denial_response(PlainTextResponse("the session's browser is gone", 410))
        return
    files = SessionFiles(session.directory, registry.config.allow_file_urls)
    viewer = PageSocket(websocket, cdp, files, registry.config.limits.max_cdp_backlog)
    try:
        await viewer.start(websocket.query_params.get("page"))
    except CdpError as exc:
        await cdp.close()
        log.warning("Session %s: the live view could not attach: %s", session.id, exc)
        await websocket.send_denial_response(PlainTextResponse("the session's page is gone", 410))
        return
    await websocket.accept()
    await serve_page_socket(
        PageSocketRun(websocket, session, token, viewer.outbox, viewer.receive()),
        tasks=viewer.tasks,
        upstream=cdp.close,  # detaches the page too, which stops its screencast
        reason="the session ended or the live-view URL expired",
    )


@dataclasses.dataclass
class PageSocketRun:
    """
    What a page-scoped socket (the live viewer's, the DevTools frontend's) runs once accepted.

    :param websocket: The accepted socket.
    :param session: Its session: the socket closes when the session ends or ``token`` expires.
    :param token: The live-view token the socket was opened with.
    :param outbox: Messages on their way to the socket; an overflow closes it (``close_backlogged``).
    :param receive: Reads the socket's commands until it disconnects.
    :param waits: Anything else whose end closes the socket (the inspected page going away).
    """

    websocket: WebSocket
    session: Session
    token: str
    outbox: Outbox
    receive: Coroutine[Any, Any, None]
    waits: tuple[Coroutine[Any, Any, Any], ...] = ()


async def serve_page_socket(
    run: PageSocketRun,
    *,
    tasks: set[asyncio.Task[None]] | None = None,
    upstream: Callable[[], Awaitable[None]],
    reason: str,
) -> None:
    """
    Pump an accepted page-scoped socket until one side ends, then close both ends.

    It ends at the first of: the client disconnects, the browser goes (the outbox answers ``None``), the
    outbox overflows, any of ``run.waits`` ends, the session ends or the token expires. Then every pump and
    ``tasks`` (work the socket spawned) is cancelled, ``upstream`` (the socket's CDP connection or channel)
    is closed, and the client is closed: with the backlog's reason after an overflow, else with ``reason``.
    """
    pumps = [
        asyncio.ensure_future(run.receive),
        asyncio.ensure_future(run.outbox.send_to(run.websocket.send_text)),
        asyncio.ensure_future(run.outbox.wait_overflow()),
        asyncio.ensure_future(until_ended(run.session, run.token)),
        *(asyncio.ensure_future(wait) for wait in run.waits),
    ]
    spawned = tasks if tasks is not None else set()
    try:
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
    except WebSocketDisconnect:
        pass
    finally:
        for task in [*pumps, *spawned]:
            task.cancel()
        await asyncio.gather(*pumps, *spawned, return_exceptions=True)
        with contextlib.suppress(Exception):
            await upstream()
        if run.outbox.overflowed:
            await close_backlogged(run.websocket, run.outbox, run.session)
        else:
            with contextlib.suppress(Exception):
                await run.websocket.close(code=1000, reason=reason)


async def until_ended(session: Session, token: str) -> None:
    # The token stops working at its expiry or the session's end; so does a socket opened with it.
    while token_valid(session, token):  # noqa: ASYNC110 - nothing signals a token's expiry
        await asyncio.sleep(1.0)
