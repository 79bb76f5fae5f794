"""The FastAPI app of ``browserbase-local``: Browserbase's REST API v1 on local Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
import uuid
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from airflow_provider_browserbase.local import devtools
from airflow_provider_browserbase.local.chromium import find_chromium, sweep_stale_dirs
from airflow_provider_browserbase.local.errors import ApiError, error_response, install_error_handlers
from airflow_provider_browserbase.local.faults import FaultInjector, FaultMiddleware, admin_router
from airflow_provider_browserbase.local.files import (
    InvalidExtensionError,
    UnsafeNameError,
    safe_upload_path,
    unpack_extension,
    zip_downloads,
)
from airflow_provider_browserbase.local.pool import BrowserPool
from airflow_provider_browserbase.local.proxy import cdp_proxy
from airflow_provider_browserbase.local.state import Extension, Registry, Session, iso, utcnow
from airflow_provider_browserbase.models import (
    ContextCreateParams,
    SessionCreateParams,
    drop_unknown_fields,
    metadata_matches,
    parse_metadata_query,
    validation_errors,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from starlette.routing import BaseRoute
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from airflow_provider_browserbase.local.config import LocalConfig

log = logging.getLogger(__name__)

STATUSES = ("PENDING", "RUNNING", "ERROR", "TIMED_OUT", "COMPLETED")
STARTED_AT = utcnow()


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


def _registry(request: Request) -> Registry:
    return request.app.state.registry


def _config(request: Request) -> LocalConfig:
    return request.app.state.config


async def require_api_key(request: Request) -> None:
    given = request.headers.get("x-bb-api-key", "")
    if not secrets.compare_digest(given.encode(), _config(request).api_key.encode()):
        raise ApiError(401, "Missing or invalid X-BB-API-Key header")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")  # Python accepts NaN and Infinity; JSON does not


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is out of range")
    return value


async def read_json_object(request: Request, *, required: bool = False) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        if required:
            raise ApiError(400, "body is required")
        return {}
    try:
        body = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body must be object")
    return body


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for path, rule in validation_errors(exc):
        wire = path.replace("[", "/").replace("]", "").replace(".", "/")
        parts.append(f"body/{wire} {rule}" if path != "(body)" else f"body {rule}")
    return "; ".join(parts)


def _validate(model: type[Any], body: dict[str, Any]) -> Any:
    try:
        # Unknown fields (fingerprint, fields newer than this project) are accepted and ignored.
        return model.model_validate(drop_unknown_fields(model, body))
    except ValidationError as exc:
        raise ApiError(400, _validation_message(exc)) from None


async def read_upload(request: Request) -> UploadFile:
    """Return the multipart ``file`` field or answer 4xx (never 500) for anything else."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise ApiError(415, "expected multipart/form-data with a 'file' field")
    try:
        form = await request.form()
    except Exception as exc:
        raise ApiError(400, f"malformed multipart body: {exc}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ApiError(400, "body/file is required (a file part named 'file')")
    return upload


def _session_router() -> APIRouter:
    router = APIRouter(prefix="/v1/sessions")

    @router.post("", status_code=201)
    async def create_session(request: Request) -> JSONResponse:
        params: SessionCreateParams = _validate(SessionCreateParams, await read_json_object(request))
        settings = params.browser_settings
        context = settings.context if settings else None
        session = await _registry(request).create_session(
            keep_alive=bool(params.keep_alive),
            region=params.region or "us-west-2",
            timeout=params.session_timeout,
            user_metadata=params.user_metadata,
            context_id=context.id if context else None,
            persist=bool(context and context.persist),
            extension_id=params.extension_id or (settings.extension_id if settings else None),
            log_cdp=not (settings and settings.log_session is False),
        )
        return JSONResponse(session.to_json(_config(request), connect=True), status_code=201)

    @router.get("")
    async def list_sessions(
        request: Request, status: str | None = None, q: str | None = None
    ) -> JSONResponse:
        if status is not None and status not in STATUSES:
            raise ApiError(400, f"querystring/status must be one of {', '.join(STATUSES)}")
        terms = None
        if q is not None:
            try:
                terms = parse_metadata_query(q)
            except ValueError as exc:
                raise ApiError(400, f"querystring/q is malformed: {exc}") from None
        found = [
            s
            for s in _registry(request).sessions.values()
            if (status is None or s.status == status)
            and (terms is None or metadata_matches(s.user_metadata, terms))
        ]
        found.sort(key=lambda s: s.created_at, reverse=True)
        return JSONResponse([s.to_json(_config(request)) for s in found])

    @router.get("/{session_id}")
    async def retrieve_session(request: Request, session_id: str) -> JSONResponse:
        session = _registry(request).get_session(session_id)
        return JSONResponse(session.to_json(_config(request), connect=True))

    @router.post("/{session_id}")
    async def update_session(request: Request, session_id: str) -> JSONResponse:
        session = _registry(request).get_session(session_id)
        body = await read_json_object(request, required=True)
        if body.get("status") != "REQUEST_RELEASE":
            raise ApiError(400, "body/status must be equal to constant REQUEST_RELEASE")
        # Releasing an ended session changes nothing and is not an error: release must be retry-safe.
        _registry(request).end_session(session, "COMPLETED", "released by REQUEST_RELEASE")
        return JSONResponse(session.to_json(_config(request)))

    @router.get("/{session_id}/debug")
    async def debug_session(request: Request, session_id: str, expiresIn: str | None = None) -> JSONResponse:
        session = _registry(request).get_session(session_id)
        expires_in = None
        if expiresIn is not None:
            if not expiresIn.isdigit() or not 1 <= int(expiresIn) <= devtools.MAX_EXPIRES_IN:
                raise ApiError(
                    400, f"querystring/expiresIn must be an integer from 1 to {devtools.MAX_EXPIRES_IN}"
                )
            expires_in = int(expiresIn)
        if not session.live:
            raise ApiError(410, f"Session {session_id} has ended; live view is no longer available")
        secret = request.app.state.secret
        return JSONResponse(await devtools.live_urls(_config(request), secret, session, expires_in))

    @router.get("/{session_id}/downloads")
    async def session_downloads(request: Request, session_id: str) -> Response:
        session = _registry(request).get_session(session_id)
        data = await asyncio.to_thread(zip_downloads, session.directory / "downloads")
        return Response(data, media_type="application/zip")

    @router.get("/{session_id}/logs")
    async def session_logs(request: Request, session_id: str) -> JSONResponse:
        return JSONResponse(list(_registry(request).get_session(session_id).logs))

    @router.get("/{session_id}/recording")
    async def session_recording(request: Request, session_id: str) -> JSONResponse:
        _registry(request).get_session(session_id)
        return JSONResponse([])  # rrweb recording is deprecated by Browserbase and not recorded here

    @router.get("/{session_id}/replays")
    async def session_replays(request: Request, session_id: str) -> JSONResponse:
        _registry(request).get_session(session_id)
        return JSONResponse({"pageCount": 0, "pages": []})

    async def recording_downloads(request: Request, session_id: str) -> JSONResponse:
        _registry(request).get_session(session_id)
        return JSONResponse({"downloads": []})  # no video is recorded locally

    for method in ("GET", "POST"):
        router.add_api_route(
            "/{session_id}/recording/downloads",
            recording_downloads,
            methods=[method],
            operation_id=f"recording_downloads_{method.lower()}",
        )

    @router.post("/{session_id}/uploads")
    async def session_upload(request: Request, session_id: str) -> JSONResponse:
        session = _registry(request).get_session(session_id)
        if not session.live:
            raise ApiError(400, f"Session {session_id} has ended; uploads need a running session")
        upload = await read_upload(request)
        # Stored per session, not in one shared /tmp/.uploads: sessions must not see each other's
        # files. Code written for Browserbase still works: the CDP proxy maps /tmp/.uploads/<name>
        # in DOM.setFileInputFiles to this folder.
        try:
            target = safe_upload_path(session.directory / "uploads", upload.filename or "")
        except UnsafeNameError as exc:
            raise ApiError(400, str(exc)) from None
        data = await upload.read()
        await asyncio.to_thread(target.write_bytes, data)
        return JSONResponse({"message": "File uploaded successfully"})

    return router


def _context_created(request: Request, context_id: str) -> dict[str, Any]:
    return {
        "id": context_id,
        # The user-data-dir upload flow is deprecated by Browserbase; these are inert sentinels.
        "uploadUrl": f"{_config(request).base_url}/v1/contexts/{context_id}/upload-not-supported",
        "publicKey": "",
        "cipherAlgorithm": "AES-256-CBC",
        "initializationVectorSize": 16,
    }


def _other_routers() -> list[APIRouter]:
    contexts = APIRouter(prefix="/v1/contexts")

    @contexts.post("", status_code=201)
    async def create_context(request: Request) -> JSONResponse:
        params: ContextCreateParams = _validate(ContextCreateParams, await read_json_object(request))
        context = _registry(request).create_context(params.name)
        return JSONResponse(_context_created(request, context.id), status_code=201)

    @contexts.get("/{context_id}")
    async def retrieve_context(request: Request, context_id: str) -> JSONResponse:
        return JSONResponse(_registry(request).get_context(context_id).to_json())

    @contexts.put("/{context_id}")
    async def update_context(request: Request, context_id: str) -> JSONResponse:
        context = _registry(request).get_context(context_id)
        context.updated_at = utcnow()
        return JSONResponse(_context_created(request, context.id))

    @contexts.delete("/{context_id}", status_code=204)
    async def delete_context(request: Request, context_id: str) -> Response:
        _registry(request).delete_context(context_id)
        return Response(status_code=204)

    extensions = APIRouter(prefix="/v1/extensions")

    @extensions.post("")
    async def upload_extension(request: Request) -> JSONResponse:
        upload = await read_upload(request)
        extension_id = str(uuid.uuid4())
        directory = _config(request).data_dir / "extensions" / extension_id
        try:
            await asyncio.to_thread(unpack_extension, await upload.read(), directory)
        except InvalidExtensionError as exc:
            raise ApiError(400, f"body/file is not a valid extension: {exc}") from None
        extension = Extension(
            id=extension_id,
            file_name=upload.filename or "extension.zip",
            project_id=_config(request).project_id,
            directory=directory,
        )
        _registry(request).add_extension(extension)
        return JSONResponse(extension.to_json())

    @extensions.get("/{extension_id}")
    async def retrieve_extension(request: Request, extension_id: str) -> JSONResponse:
        return JSONResponse(_registry(request).get_extension(extension_id).to_json())

    @extensions.delete("/{extension_id}", status_code=204)
    async def delete_extension(request: Request, extension_id: str) -> Response:
        _registry(request).delete_extension(extension_id)
        return Response(status_code=204)

    projects = APIRouter(prefix="/v1/projects")

    def project_json(config: LocalConfig) -> dict[str, Any]:
        return {
            "id": config.project_id,
            "name": "browserbase-local",
            "ownerId": config.project_id,
            "defaultTimeout": config.default_timeout,
            "concurrency": config.max_sessions,
            "createdAt": iso(STARTED_AT),
            "updatedAt": iso(STARTED_AT),
        }

    def check_project(config: LocalConfig, project_id: str) -> None:
        if project_id != config.project_id:
            raise ApiError(404, f"Project {project_id} not found")

    @projects.get("")
    async def list_projects(request: Request) -> JSONResponse:
        return JSONResponse([project_json(_config(request))])

    @projects.get("/{project_id}")
    async def retrieve_project(request: Request, project_id: str) -> JSONResponse:
        check_project(_config(request), project_id)
        return JSONResponse(project_json(_config(request)))

    @projects.get("/{project_id}/usage")
    async def project_usage(request: Request, project_id: str) -> JSONResponse:
        check_project(_config(request), project_id)
        sessions: list[Session] = list(_registry(request).sessions.values())
        return JSONResponse({"browserMinutes": sum(s.browser_minutes() for s in sessions), "proxyBytes": 0})

    return [contexts, extensions, projects]


def create_app(config: LocalConfig, extra_routes: Sequence[BaseRoute] = ()) -> FastAPI:
    """
    Build the server's app.

    :param config: Server settings; ``config.port`` must be the bound port (URLs handed out use it).
    :param extra_routes: Additional Starlette routes or mounts, e.g. a demo site at ``/demo``.
    """
    executable = None if config.no_browser else find_chromium(config.chromium)
    config.data_dir.mkdir(parents=True, exist_ok=True)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        swept = await asyncio.to_thread(sweep_stale_dirs, config.data_dir)
        if swept:
            log.info("Removed %d stale session folders from %s", swept, config.data_dir)
        pool = None
        if executable is not None and config.pool_size > 0:
            pool = BrowserPool(executable, config.data_dir, config.pool_size)
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
    app.state.secret = secrets.token_bytes(32)
    install_error_handlers(app)
    auth = [Depends(require_api_key)]
    for router in (_session_router(), *_other_routers()):
        app.include_router(router, dependencies=auth)
    if config.enable_admin:
        injector = FaultInjector()
        app.state.faults = injector
        app.add_middleware(FaultMiddleware, injector=injector)
        app.include_router(admin_router(injector), dependencies=auth)
    app.add_middleware(RequestIdMiddleware)

    @app.get("/health")
    async def health(request: Request) -> JSONResponse:
        live = len(_registry(request).live_sessions())
        return JSONResponse({"status": "ok", "liveSessions": live, "maxSessions": config.max_sessions})

    @app.api_route("/webdriver{rest:path}", methods=["GET", "POST", "DELETE"], include_in_schema=False)
    async def webdriver(rest: str) -> JSONResponse:
        return error_response(
            501, "browserbase-local has no Selenium endpoint; connect with CDP (connectUrl)"
        )

    app.router.routes.append(Route("/devtools/{path:path}", devtools.frontend_file))
    app.router.routes.append(Route("/devtools-fullscreen/{path:path}", devtools.frontend_file))
    app.router.routes.append(WebSocketRoute("/", cdp_proxy))
    app.router.routes.append(
        WebSocketRoute("/debug/{session_id}/{token}/devtools/page/{target_id}", devtools.debug_socket)
    )
    app.router.routes.append(
        WebSocketRoute("/debug/{session_id}/{token}/devtools/browser", devtools.debug_socket)
    )
    app.router.routes.extend(extra_routes)
    return app
