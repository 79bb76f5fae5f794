"""The FastAPI app of ``browserbase-local``: Browserbase's REST API v1 on local Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from airflow_provider_browserbase.local import devtools, inspector, live_assets, live_page
from airflow_provider_browserbase.local.api_fetch import fetch_router
from airflow_provider_browserbase.local.api_recordings import recording_file, recording_router
from airflow_provider_browserbase.local.api_resources import resource_routers
from airflow_provider_browserbase.local.api_search import search_router
from airflow_provider_browserbase.local.api_sessions import session_router
from airflow_provider_browserbase.local.chromium import check_root, find_chromium, sweep_stale_dirs
from airflow_provider_browserbase.local.errors import error_response, install_error_handlers
from airflow_provider_browserbase.local.faults import FaultInjector, FaultMiddleware, admin_router
from airflow_provider_browserbase.local.inputs import registry_of, require_api_key
from airflow_provider_browserbase.local.limits import (
    BodyLimitMiddleware,
    ConnectionLimitMiddleware,
    OpenConnections,
)
from airflow_provider_browserbase.local.network import HostOriginMiddleware, RefusedWebSocketLog
from airflow_provider_browserbase.local.pool import BrowserPool
from airflow_provider_browserbase.local.proxy import cdp_proxy
from airflow_provider_browserbase.local.settings_agent import prepare_pooled_browser
from airflow_provider_browserbase.local.state import Registry
from airflow_provider_browserbase.models import build_models

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from starlette.routing import BaseRoute
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from airflow_provider_browserbase.local.config import LocalConfig

log = logging.getLogger(__name__)


class RequestIdMiddleware:
    """
    Tag every HTTP answer with ``x-request-id``, as Browserbase does, so client errors can name it.

    :param app: The wrapped ASGI app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex.encode()

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id)]
            await send(message)

        await self.app(scope, receive, tagged)


def create_app(config: LocalConfig, extra_routes: Sequence[BaseRoute] = ()) -> FastAPI:
    """
    Build the server's app.

    :param config: Server settings; ``config.port`` must be the bound port (URLs handed out use it).
    :param extra_routes: Additional Starlette routes or mounts, e.g. a demo site at ``/demo``.
    """
    build_models()  # the server validates requests from its loop while tests use the models in theirs
    executable = None
    if not config.no_browser:
        check_root(config.no_sandbox_as_root)
        executable = find_chromium(config.chromium)
    config.data_dir.mkdir(parents=True, exist_ok=True)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        swept = await asyncio.to_thread(sweep_stale_dirs, config.data_dir)
        if swept:
            log.info("Removed %d stale session folders from %s", swept, config.data_dir)
        pool = None
        if executable is not None and config.pool_size > 0:
            pool = BrowserPool(executable, config.data_dir, config.pool_size, prepare=prepare_pooled_browser)
            pool.start()
        registry = Registry(config, executable, pool)
        app.state.registry = registry
        try:
            yield
        finally:
            await registry.close()
            if pool is not None:
                await pool.close()

    app = FastAPI(
        title="browserbase-local",
        description="Browserbase-compatible REST API backed by local headless Chromium",
        lifespan=lifespan,
    )
    app.state.config = config
    install_error_handlers(app)
    auth = [Depends(require_api_key)]
    for router in (
        session_router(),
        recording_router(),
        *resource_routers(),
        fetch_router(),
        search_router(),
    ):
        app.include_router(router, dependencies=auth)
    if config.enable_admin:
        injector = FaultInjector()
        app.state.faults = injector
        app.add_middleware(FaultMiddleware, injector=injector)
        app.include_router(admin_router(injector), dependencies=auth)
    app.add_middleware(RequestIdMiddleware)
    # Added last, so they run first: for every route, the demo shop and the WebSockets included.
    app.add_middleware(BodyLimitMiddleware, limits=config.limits)
    app.add_middleware(HostOriginMiddleware, config=config)
    app.state.open_connections = OpenConnections()  # bound to uvicorn's count by uvicorn_server
    app.add_middleware(ConnectionLimitMiddleware, limits=config.limits, count=app.state.open_connections)
    app.add_middleware(RefusedWebSocketLog)

    @app.get("/health")
    async def health(request: Request) -> JSONResponse:
        live = len(registry_of(request).live_sessions())
        return JSONResponse({"status": "ok", "liveSessions": live, "maxSessions": config.max_sessions})

    @app.api_route("/webdriver{rest:path}", methods=["GET", "POST", "DELETE"], include_in_schema=False)
    async def webdriver(rest: str) -> JSONResponse:
        return error_response(
            501, "browserbase-local has no Selenium endpoint; connect with CDP (connectUrl)"
        )

    # Opened from Airflow's "Browserbase Session" link: no API key, the live-view token (see live_page.py).
    app.router.routes.append(Route("/sessions/{session_id}/live", live_page.session_live_page))
    app.router.routes.append(WebSocketRoute("/sessions/{session_id}/live/ws", devtools.live_socket))
    # debuggerUrl: Chromium's DevTools frontend on one page, with the same token (inspector.py).
    app.router.routes.append(
        WebSocketRoute("/sessions/{session_id}/devtools/page/{target_id}", inspector.inspector_socket)
    )
    app.router.routes.append(Route("/live-assets/{name}", live_assets.live_asset))
    # A recording's downloadUrl: no API key, a short-lived signature (api_recordings.py).
    app.router.routes.append(Route("/recordings/{session_id}/{name}", recording_file))
    for retired in ("/devtools/{path:path}", "/devtools-fullscreen/{path:path}", "/debug/{path:path}"):
        app.router.routes.append(Route(retired, devtools.retired_route))
    app.router.routes.append(WebSocketRoute("/", cdp_proxy))
    app.router.routes.extend(extra_routes)
    return app
