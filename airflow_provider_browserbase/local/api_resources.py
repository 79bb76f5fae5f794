"""``/v1/contexts``, ``/v1/extensions`` and ``/v1/projects``."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from airflow_provider_browserbase.local.errors import ApiError
from airflow_provider_browserbase.local.files import ArchiveLimits, InvalidExtensionError, unpack_extension
from airflow_provider_browserbase.local.inputs import (
    config_of,
    read_json_object,
    registry_of,
    validate_body,
)
from airflow_provider_browserbase.local.openapi import file_body, json_body
from airflow_provider_browserbase.local.records import Extension, iso, utcnow
from airflow_provider_browserbase.local.uploads import receive_file
from airflow_provider_browserbase.models import ContextCreateParams

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.config import LocalConfig
    from airflow_provider_browserbase.local.records import Session

STARTED_AT = utcnow()


def _context_created(request: Request, context_id: str) -> dict[str, Any]:
    return {
        "id": context_id,
        # The user-data-dir upload flow is deprecated by Browserbase; these are inert sentinels.
        "uploadUrl": f"{config_of(request).base_url}/v1/contexts/{context_id}/upload-not-supported",
        "publicKey": "",
        "cipherAlgorithm": "AES-256-CBC",
        "initializationVectorSize": 16,
    }


def resource_routers() -> list[APIRouter]:
    """The context, extension and project endpoints; the caller adds the API-key dependency."""
    contexts = APIRouter(prefix="/v1/contexts")

    @contexts.post("", status_code=201, openapi_extra=json_body(ContextCreateParams))
    async def create_context(request: Request) -> JSONResponse:
        params: ContextCreateParams = validate_body(ContextCreateParams, await read_json_object(request))
        context = registry_of(request).create_context(params.name)
        return JSONResponse(_context_created(request, context.id), status_code=201)

    @contexts.get("/{context_id}")
    async def retrieve_context(request: Request, context_id: str) -> JSONResponse:
        return JSONResponse(registry_of(request).get_context(context_id).to_json())

    @contexts.put("/{context_id}")
    async def update_context(request: Request, context_id: str) -> JSONResponse:
        context = registry_of(request).get_context(context_id)
        context.updated_at = utcnow()
        return JSONResponse(_context_created(request, context.id))

    @contexts.delete("/{context_id}", status_code=204)
    async def delete_context(request: Request, context_id: str) -> Response:
        registry_of(request).delete_context(context_id)
        return Response(status_code=204)

    extensions = APIRouter(prefix="/v1/extensions")

    @extensions.post("", openapi_extra=file_body())
    async def upload_extension(request: Request) -> JSONResponse:
        config = config_of(request)
        registry = registry_of(request)
        registry.check_extension_count()
        extension_id = str(uuid.uuid4())
        folder = config.data_dir / "extensions"
        folder.mkdir(parents=True, exist_ok=True)
        limits = config.limits
        received = await receive_file(
            request,
            lambda _name: folder / f"{extension_id}.zip",
            limit=limits.max_extension_size,
            what="the extension zip",
            flag="--max-extension-size",
        )
        directory = folder / extension_id
        archive_limits = ArchiveLimits(limits.max_extension_unpacked_size, limits.max_extension_files)
        try:
            await asyncio.to_thread(unpack_extension, received.path, directory, archive_limits)
        except InvalidExtensionError as exc:
            raise ApiError(400, f"body/file is not a valid extension: {exc}") from None
        finally:
            received.path.unlink(missing_ok=True)
        extension = Extension(
            id=extension_id,
            file_name=received.filename or "extension.zip",
            project_id=config.project_id,
            directory=directory,
        )
        try:
            registry.add_extension(extension)
        except Exception:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return JSONResponse(extension.to_json())

    @extensions.get("/{extension_id}")
    async def retrieve_extension(request: Request, extension_id: str) -> JSONResponse:
        return JSONResponse(registry_of(request).get_extension(extension_id).to_json())

    @extensions.delete("/{extension_id}", status_code=204)
    async def delete_extension(request: Request, extension_id: str) -> Response:
        registry_of(request).delete_extension(extension_id)
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
        return JSONResponse([project_json(config_of(request))])

    @projects.get("/{project_id}")
    async def retrieve_project(request: Request, project_id: str) -> JSONResponse:
        check_project(config_of(request), project_id)
        return JSONResponse(project_json(config_of(request)))

    @projects.get("/{project_id}/usage")
    async def project_usage(request: Request, project_id: str) -> JSONResponse:
        check_project(config_of(request), project_id)
        sessions: list[Session] = list(registry_of(request).sessions.values())
        return JSONResponse(
            {
                "browserMinutes": sum(s.browser_minutes() for s in sessions),
                "proxyBytes": sum(s.proxy_bytes for s in sessions),
            }
        )

    return [contexts, extensions, projects]
