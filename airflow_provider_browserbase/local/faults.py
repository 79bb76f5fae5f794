"""Fault injection for tests of clients: scripted errors, slow answers, dropped and crashed sessions.

Served under ``/_admin`` only when the server starts with ``enable_admin=True`` (``--enable-admin``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import itertools
import os
import signal
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from airflow_provider_browserbase.local.errors import ApiError, error_response

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from airflow_provider_browserbase.local.state import Registry

_ids = itertools.count(1)


@dataclass
class Fault:
    """
    One scripted misbehaviour for requests matching ``method`` and ``path``.

    :param path: Request path, ``fnmatch`` wildcards allowed (``/v1/sessions/*``).
    :param method: HTTP method, or ``*``.
    :param status: Answer with this error status (``None``: answer normally, only delayed).
    :param count: How many matching requests it applies to.
    :param headers: Extra headers of the error answer (``retry-after``...).
    :param message: ``message`` of the error body.
    :param after: Do the real work first, then answer ``status``: the client cannot tell whether its
        request took effect (the ambiguous failure of a create).
    :param delay_after: Seconds to wait after doing the work, before answering (client read timeouts).
    """

    path: str
    method: str = "*"
    status: int | None = None
    count: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "Injected fault"
    after: bool = False
    delay_after: float = 0.0
    id: int = field(default_factory=lambda: next(_ids))

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and fnmatch.fnmatchcase(path, self.path)


class FaultInjector:
    """The list of active faults; each is consumed by the requests it applies to."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def take(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None


class FaultMiddleware:
    """
    Apply the injector's faults to ``/v1`` requests.

    :param app: The wrapped ASGI app.
    :param injector: Active faults.
    """

    def __init__(self, app: ASGIApp, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        fault = self.injector.take(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.status is not None and not fault.after and not fault.delay_after:
            await error_response(fault.status, fault.message, fault.headers)(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        if fault.delay_after:
            await asyncio.sleep(fault.delay_after)
        if fault.status is not None:
            await error_response(fault.status, fault.message, fault.headers)(scope, receive, send)
            return
        for message in held:
            await send(message)


def admin_router(injector: FaultInjector) -> APIRouter:
    """``/_admin``: add, list and clear faults; drop a session's CDP clients; crash its browser."""
    router = APIRouter(prefix="/_admin", include_in_schema=False)

    def registry(request: Request) -> Registry:
        return request.app.state.registry

    @router.post("/faults", status_code=201)
    async def add_fault(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            if not isinstance(body, dict) or not isinstance(body.get("path"), str):
                raise TypeError("path")
            fault = Fault(**{k: v for k, v in body.items() if k != "id"})
            if fault.status is not None and not 400 <= int(fault.status) <= 599:
                raise ValueError("status")
        except (ValueError, TypeError) as exc:
            raise ApiError(400, f"a fault needs a string path and known fields ({exc})") from None
        injector.faults.append(fault)
        return JSONResponse(asdict(fault), status_code=201)

    @router.get("/faults")
    async def list_faults() -> JSONResponse:
        return JSONResponse([asdict(f) for f in injector.faults])

    @router.delete("/faults", status_code=204)
    async def clear_faults() -> Response:
        injector.faults.clear()
        return Response(status_code=204)

    @router.post("/sessions/{session_id}/drop-connections")
    async def drop_connections(request: Request, session_id: str) -> JSONResponse:
        session = registry(request).get_session(session_id)
        clients = list(session.clients)
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close("connection dropped by /_admin")
        return JSONResponse({"dropped": len(clients)})

    @router.post("/sessions/{session_id}/crash")
    async def crash_browser(request: Request, session_id: str) -> JSONResponse:
        session = registry(request).get_session(session_id)
        browser = session.browser
        if browser is None or browser.pid is None or not browser.alive:
            raise ApiError(409, f"Session {session_id} has no running browser to crash")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(browser.pid, signal.SIGKILL)
        return JSONResponse({"crashed": browser.pid})

    return router
