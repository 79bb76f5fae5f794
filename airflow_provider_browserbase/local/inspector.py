"""
``debuggerUrl``: Chromium's own DevTools frontend, inspecting one page of a session.

Every Chromium ships the DevTools frontend inside the browser, at
``devtools://devtools/bundled/inspector.html``; given ``?ws=<host:port/path>`` it opens
``ws://<host:port/path>`` and speaks the page-level protocol there, as it does with a page's
``/devtools/page/<targetId>`` socket on a debugging port. Chromium here has no port (``cdp_mux.py``), so
this module serves that socket itself, at ``/sessions/<id>/devtools/page/<targetId>?token=...``:

- reached only with the session's live-view token (``devtools.py``: refused without one, with another
  session's, once it expired or the session ended; an open socket closes at that moment too);
- the frontend's messages without ``sessionId`` go to a flat session attached to that one page target
  through the multiplexer; messages naming a child session the page auto-attached (its out-of-process
  iframes, its workers) go there; the page session's id is stripped from what comes back;
- the same command rules as the CDP proxy (``cdp_rules.apply_rules``), and no browser-level reach:
  ``Browser.*``, ``Tethering.*`` and every ``Target.*`` command but the few in :data:`TARGET_ALLOWED`
  are answered with an error. Chromium itself would accept ``Target.createTarget`` or
  ``Target.attachToTarget`` on a page session of the pipe's client, which may reach the browser.

Browsers do not open ``devtools://`` links from web pages: a developer pastes the URL into Chrome's (or
Chromium's) address bar. Whoever holds it can inspect and change the page, as with the live view.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from typing import TYPE_CHECKING, Any

from starlette.responses import PlainTextResponse

from airflow_provider_browserbase.local import devtools
from airflow_provider_browserbase.local.cdp import CdpError
from airflow_provider_browserbase.local.cdp_mux import Outbox, error_answer
from airflow_provider_browserbase.local.cdp_rules import CommandRefusedError, SessionFiles, apply_rules
from airflow_provider_browserbase.local.proxy import parse_command

if TYPE_CHECKING:
    from starlette.websockets import WebSocket

    from airflow_provider_browserbase.local.cdp_mux import CdpChannel
    from airflow_provider_browserbase.local.state import Registry

log = logging.getLogger(__name__)

# Target.* commands the frontend needs for one page: its own children (iframes, workers) only.
TARGET_ALLOWED = frozenset({"Target.setAutoAttach", "Target.getTargetInfo", "Target.detachFromTarget"})
# Answered here without reaching Chromium: discovery would report the browser's other targets, and the
# frontend only asks for it (and for remote locations) when it believes it inspects a whole browser.
TARGET_ANSWERED = frozenset({"Target.setDiscoverTargets", "Target.setRemoteLocations"})
REFUSED_DOMAINS = ("Browser.", "Tethering.", "Target.")
_HEAD_ID = re.compile(r'\{"id":(-?\d+),')
_TAIL_SESSION = re.compile(r',"sessionId":"([^"\\]*)"\}\s*$')
_TAIL_CHARS = 512


def _strip_session(text: str, session_id: str) -> str:
    tail = _TAIL_SESSION.search(text, max(0, len(text) - _TAIL_CHARS))
    if tail is not None and tail.group(1) == session_id:
        return text[: tail.start()] + "}"
    return text


class InspectorSocket:
    """
    One frontend's page-scoped socket: a browser-level channel used only through one page's session.

    :param websocket: The frontend's socket (accepted once :meth:`attach` succeeded).
    :param files: The session's folders and ``--allow-file-urls``.
    :param backlog: Characters of messages that may wait for the frontend (``--max-cdp-backlog``).
    """

    def __init__(self, websocket: WebSocket, files: SessionFiles, backlog: int) -> None:
        self.websocket = websocket
        self.files = files
        self.outbox = Outbox(backlog)
        self.channel: CdpChannel | None = None
        self.target_id = ""
        self.page_session = ""
        self.gone = asyncio.Event()
        # The server's own calls use negative ids: the frontend's are positive, and they are only made
        # before the socket is accepted.
        self._own_ids = itertools.count(-1, -1)
        self._own: dict[int, asyncio.Future[dict[str, Any]]] = {}

    def deliver(self, text: str | None) -> None:
        """The channel's ``deliver``: route the browser's answers and events to the frontend."""
        if text is None:
            self.gone.set()
            self.outbox.put(None)
            return
        head = _HEAD_ID.match(text)
        if head is not None and int(head.group(1)) < 0:
            future = self._own.pop(int(head.group(1)), None)
            if future is not None and not future.done():
                future.set_result(json.loads(text))
            return
        if not self.page_session:
            return
        tail = _TAIL_SESSION.search(text, max(0, len(text) - _TAIL_CHARS))
        if tail is None:
            # The browser-level session's own events: only the page's end matters to the frontend.
            if '"Target.detachedFromTarget"' in text[:64] and self.page_session in text:
                self.gone.set()
            if head is not None:
                self.outbox.put(text)
            return
        self.outbox.put(_strip_session(text, self.page_session))

    async def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self.channel is not None
        call_id = next(self._own_ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._own[call_id] = future
        refused = self.channel.send({"id": call_id, "method": method, "params": params})
        if refused is not None:
            raise CdpError(f"{method}: {json.loads(refused)['error']['message']}")
        reply = await asyncio.wait_for(future, 10.0)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error'].get('message')}")
        result = reply.get("result", {})
        return result if isinstance(result, dict) else {}

    async def attach(self, channel: CdpChannel, target_id: str) -> bool:
        """Attach a flat session to ``target_id``; ``False`` when it is no page of the session's browser."""
        self.channel = channel
        try:
            info = (await self._call("Target.getTargetInfo", {"targetId": target_id})).get("targetInfo")
            if not isinstance(info, dict) or info.get("type") != "page":
                return False
            attached = await self._call("Target.attachToTarget", {"targetId": target_id, "flatten": True})
        except (TimeoutError, CdpError):
            return False
        self.target_id = target_id
        self.page_session = str(attached["sessionId"])
        return True

    def check(self, command: dict[str, Any]) -> dict[str, Any] | None:
        """
        Route one frontend command to the page (or a child of it); return an answer given here instead.

        :raises CommandRefusedError: The command may not be sent; the message says why.
        """
        assert self.channel is not None
        method = command.get("method")
        params = command.get("params")
        if not isinstance(params, dict):
            params = command["params"] = {}
        session_id = command.get("sessionId")
        if session_id is None:
            command["sessionId"] = self.page_session
        elif session_id == self.channel.root:
            raise CommandRefusedError("this socket reaches one page, not the browser")
        if isinstance(method, str) and method in TARGET_ANSWERED:
            return {}
        if isinstance(method, str) and method in TARGET_ALLOWED:
            self._check_target(method, params)
        elif isinstance(method, str) and method.startswith(REFUSED_DOMAINS):
            raise CommandRefusedError(
                f"{method} is not allowed on a page's DevTools socket: it reaches one page and its own "
                "frames and workers (use the session's connectUrl for the whole browser)"
            )
        apply_rules(command, self.files)
        return None

    def _check_target(self, method: str, params: dict[str, Any]) -> None:
        assert self.channel is not None
        if method == "Target.getTargetInfo" and params.get("targetId") not in (None, self.target_id):
            raise CommandRefusedError(f"{method}: only this page's own target may be named")
        if method == "Target.detachFromTarget":
            named = params.get("sessionId")
            if named is None or named in (self.page_session, self.channel.root):
                raise CommandRefusedError(f"{method}: only a child session of this page may be detached")

    async def receive(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                continue
            command, refused = parse_command(text)
            if command is not None:
                refused = self._forward(command)
            if refused is not None:
                self.outbox.put(refused)

    def _forward(self, command: dict[str, Any]) -> str | None:
        assert self.channel is not None
        call_id, session_id = command.get("id"), command.get("sessionId")
        if isinstance(call_id, int) and not isinstance(call_id, bool) and call_id < 0:
            return error_answer(call_id, "Message ids must not be negative", -32600, session_id)
        try:
            answered = self.check(command)
        except CommandRefusedError as exc:
            return error_answer(call_id, str(exc), session_id=session_id)
        if answered is not None:
            answer: dict[str, Any] = {"id": call_id, "result": answered}
            if session_id is not None:
                answer["sessionId"] = session_id
            return json.dumps(answer)
        return self.channel.send(command)


async def inspector_socket(websocket: WebSocket) -> None:
    """Serve ``/sessions/<id>/devtools/page/<targetId>?token=...`` for Chromium's DevTools frontend."""
    registry: Registry = websocket.app.state.registry
    session = registry.sessions.get(websocket.path_params["session_id"])
    token = websocket.query_params.get("token", "")
    if session is None or not devtools.token_valid(session, token) or session.browser is None:
        await websocket.send_denial_response(PlainTextResponse("invalid or expired DevTools URL", 401))
        return
    files = SessionFiles(session.directory, registry.config.allow_file_urls)
    inspector = InspectorSocket(websocket, files, registry.config.limits.max_cdp_backlog)
    try:
        channel = await session.browser.open_channel(inspector.deliver)
    except (TimeoutError, CdpError):
        await websocket.send_denial_response(PlainTextResponse("the session's browser is gone", 410))
        return
    if not await inspector.attach(channel, websocket.path_params["target_id"]):
        await channel.close()
        await websocket.send_denial_response(PlainTextResponse("no such page in this session", 404))
        return
    await websocket.accept()
    run = devtools.PageSocketRun(
        websocket, session, token, inspector.outbox, inspector.receive(), waits=(inspector.gone.wait(),)
    )
    await devtools.serve_page_socket(
        run,
        upstream=channel.close,  # detaches the page session and its children
        reason="the session or its page ended, or the URL expired",
    )
