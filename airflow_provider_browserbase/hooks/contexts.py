"""The contexts resource: saved browser state (cookies, storage) that sessions load and persist."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from airflow_provider_browserbase.exceptions import BrowserbaseValidationError
from airflow_provider_browserbase.hooks._context import by_id_call, nothing, one, read_json
from airflow_provider_browserbase.hooks._transport import ApiCall, Step, parse_answer
from airflow_provider_browserbase.models import (
    Context,
    ContextCreateParams,
    CreatedContext,
    validation_errors,
)

if TYPE_CHECKING:
    from collections.abc import Generator

    from airflow_provider_browserbase.hooks._context import CallContext, Operation


def create_context(name: str | None = None, project_id: str | None = None) -> Operation[CreatedContext]:
    """``POST /v1/contexts``; ``project_id`` defaults to the connection's."""
    try:
        params = ContextCreateParams(name=name, project_id=project_id)
    except ValidationError as exc:
        raise BrowserbaseValidationError(validation_errors(exc), "context settings") from None

    def flow(ctx: CallContext) -> Generator[Step, Any, CreatedContext]:
        body = params.model_copy(update={"project_id": params.project_id or ctx.settings.project_id}).to_api()
        # No idempotency key exists for contexts: repeat only what provably did not reach the server.
        call = ApiCall("create_context", "POST", "/v1/contexts", json=body, retry="unsent")
        return parse_answer(call, CreatedContext, (yield from read_json(ctx, call)))

    return flow


def get_context(context_id: str) -> Operation[Context]:
    """``GET /v1/contexts/{id}``."""
    return one(by_id_call("get_context", "GET", "contexts", context_id, "context_id"), Context)


def delete_context(context_id: str) -> Operation[None]:
    """``DELETE /v1/contexts/{id}``; a missing context raises :class:`BrowserbaseNotFoundError`."""
    return nothing(by_id_call("delete_context", "DELETE", "contexts", context_id, "context_id"))
