"""``/v1/sessions``: create, list, retrieve, release, live view, logs, downloads, uploads."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from airflow_provider_browserbase.local import devtools
from airflow_provider_browserbase.local.errors import ApiError
from airflow_provider_browserbase.local.files import UnsafeNameError, safe_upload_path, zip_downloads
from airflow_provider_browserbase.local.inputs import (
    config_of,
    read_json_object,
    registry_of,
    validate_body,
)
from airflow_provider_browserbase.local.openapi import file_body, json_body
from airflow_provider_browserbase.local.session_settings import ProxyConfigError, plan_settings
from airflow_provider_browserbase.local.uploads import receive_file
from airflow_provider_browserbase.models import (
    SessionCreateParams,
    SessionStatus,
    SessionUpdateParams,
    metadata_matches,
    parse_metadata_query,
)

if TYPE_CHECKING:
    from pathlib import Path


def session_router() -> APIRouter:
    """The session endpoints; the caller adds the API-key dependency."""
    router = APIRouter(prefix="/v1/sessions")

    @router.post("", status_code=201, openapi_extra=json_body(SessionCreateParams))
    async def create_session(request: Request) -> JSONResponse:
        params: SessionCreateParams = validate_body(SessionCreateParams, await read_json_object(request))
        settings = params.browser_settings
        context = settings.context if settings else None
        try:
            plan = plan_settings(params)
        except ProxyConfigError as exc:
            raise ApiError(400, str(exc)) from None
        session = await registry_of(request).create_session(
            keep_alive=bool(params.keep_alive),
            region=params.region or "us-west-2",
            timeout=params.session_timeout,
            user_metadata=params.user_metadata,
            context_id=context.id if context else None,
            persist=bool(context and context.persist),
            extension_id=params.extension_id or (settings.extension_id if settings else None),
            log_cdp=plan.log_session,
            settings=plan,
        )
        return JSONResponse(session.to_json(config_of(request), connect=True), status_code=201)

    @router.get("")
    async def list_sessions(
        request: Request, status: str | None = None, q: str | None = None
    ) -> JSONResponse:
        if status is not None and status not in SessionStatus.KNOWN:
            raise ApiError(400, f"querystring/status must be one of {', '.join(sorted(SessionStatus.KNOWN))}")
        terms = None
        if q is not None:
            try:
                terms = parse_metadata_query(q)
            except ValueError as exc:
                raise ApiError(400, f"querystring/q is malformed: {exc}") from None
        found = [
            s
            for s in registry_of(request).sessions.values()
            if (status is None or s.status == status)
            and (terms is None or metadata_matches(s.user_metadata, terms))
        ]
        found.sort(key=lambda s: s.created_at, reverse=True)
        return JSONResponse([s.to_json(config_of(request)) for s in found])

    @router.get("/{session_id}")
    async def retrieve_session(request: Request, session_id: str) -> JSONResponse:
        session = registry_of(request).get_session(session_id)
        return JSONResponse(session.to_json(config_of(request), connect=True))

    @router.post("/{session_id}", openapi_extra=json_body(SessionUpdateParams, required=True))
    async def update_session(request: Request, session_id: str) -> JSONResponse:
        session = registry_of(request).get_session(session_id)
        body = await read_json_object(request, required=True)
        if body.get("status") != "REQUEST_RELEASE":
            raise ApiError(400, "body/status must be equal to constant REQUEST_RELEASE")
        # Releasing an ended session changes nothing and is not an error: release must be retry-safe.
        registry_of(request).release_session(session, "released by REQUEST_RELEASE")
        return JSONResponse(session.to_json(config_of(request)))

    @router.get("/{session_id}/debug")
    async def debug_session(request: Request, session_id: str, expiresIn: str | None = None) -> JSONResponse:
        session = registry_of(request).get_session(session_id)
        expires_in = None
        if expiresIn is not None:
            if not expiresIn.isdigit() or not 1 <= int(expiresIn) <= devtools.MAX_EXPIRES_IN:
                raise ApiError(
                    400, f"querystring/expiresIn must be an integer from 1 to {devtools.MAX_EXPIRES_IN}"
                )
            expires_in = int(expiresIn)
        if not session.live:
            raise ApiError(410, f"Session {session_id} has ended; live view is no longer available")
        return JSONResponse(await devtools.live_urls(config_of(request), session, expires_in))

    @router.get("/{session_id}/downloads")
    async def session_downloads(request: Request, session_id: str) -> Response:
        session = registry_of(request).get_session(session_id)
        data = await asyncio.to_thread(zip_downloads, session.directory / "downloads")
        return Response(data, media_type="application/zip")

    @router.get("/{session_id}/logs")
    async def session_logs(request: Request, session_id: str) -> JSONResponse:
        return JSONResponse(list(registry_of(request).get_session(session_id).logs))

    @router.get("/{session_id}/recording")
    async def session_recording(request: Request, session_id: str) -> JSONResponse:
        registry_of(request).get_session(session_id)
        return JSONResponse([])  # rrweb recording is deprecated by Browserbase and not recorded here

    @router.post("/{session_id}/uploads", openapi_extra=file_body())
    async def session_upload(request: Request, session_id: str) -> JSONResponse:
        session = registry_of(request).get_session(session_id)
        if not session.live:
            raise ApiError(400, f"Session {session_id} has ended; uploads need a running session")
        # Stored per session, not in one shared /tmp/.uploads: sessions must not see each other's
        # files. Code written for Browserbase still works: the CDP proxy maps /tmp/.uploads/<name>
        # in DOM.setFileInputFiles to this folder.
        folder = session.directory / "uploads"

        def where(filename: str) -> Path:
            try:
                return safe_upload_path(folder, filename)
            except UnsafeNameError as exc:
                raise ApiError(400, str(exc)) from None

        await receive_file(
            request,
            where,
            limit=config_of(request).limits.max_upload_size,
            what="the upload",
            flag="--max-upload-size",
        )
        return JSONResponse({"message": "File uploaded successfully"})

    return router
