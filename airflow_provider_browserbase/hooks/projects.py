"""The projects resource: the projects an API key sees, one project, and its usage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_browserbase.exceptions import BrowserbaseError, BrowserbaseValidationError
from airflow_provider_browserbase.hooks._context import many, read_json
from airflow_provider_browserbase.hooks._transport import ApiCall, Step, api_path, parse_answer
from airflow_provider_browserbase.models import Project, ProjectUsage

if TYPE_CHECKING:
    from collections.abc import Generator

    from airflow_provider_browserbase.hooks._context import CallContext, Operation

_LIST = ApiCall("list_projects", "GET", "/v1/projects")


def list_projects(max_retries: int | None = None) -> Operation[list[Project]]:
    """``GET /v1/projects``; ``max_retries=0`` for a single attempt (the connection test)."""
    return many(_LIST, Project, max_retries)


def _check(project_id: str | None) -> None:
    if project_id is not None and not isinstance(project_id, str):
        raise BrowserbaseValidationError([("project_id", "must be a string")], "request")


def _chosen(ctx: CallContext, project_id: str | None, what: str) -> Generator[Step, Any, str]:
    """The given project, else the connection's, else the first the key sees."""
    chosen = project_id or ctx.settings.project_id
    if chosen:
        return chosen
    projects = yield from many(ApiCall(what, "GET", "/v1/projects"), Project)(ctx)
    if not projects:
        raise BrowserbaseError(f"Browserbase {what}: the API key sees no project")
    return projects[0].id


def get_project(project_id: str | None = None) -> Operation[Project]:
    """``GET /v1/projects/{id}`` of the project chosen as :func:`_chosen` says."""
    _check(project_id)

    def flow(ctx: CallContext) -> Generator[Step, Any, Project]:
        chosen = yield from _chosen(ctx, project_id, "get_project")
        call = ApiCall("get_project", "GET", api_path("/v1/projects/{}", chosen, what="project_id"))
        return parse_answer(call, Project, (yield from read_json(ctx, call)))

    return flow


def get_project_usage(project_id: str | None = None) -> Operation[ProjectUsage]:
    """``GET /v1/projects/{id}/usage``: browser minutes and proxy bytes."""
    _check(project_id)

    def flow(ctx: CallContext) -> Generator[Step, Any, ProjectUsage]:
        chosen = yield from _chosen(ctx, project_id, "get_project_usage")
        call = ApiCall(
            "get_project_usage", "GET", api_path("/v1/projects/{}/usage", chosen, what="project_id")
        )
        return parse_answer(call, ProjectUsage, (yield from read_json(ctx, call)))

    return flow
