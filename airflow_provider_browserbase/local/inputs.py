"""Reading requests: the API key, and JSON bodies validated by the project's models."""

from __future__ import annotations

import json
import math
import secrets
from typing import TYPE_CHECKING, Any, get_args

from fastapi import Request  # noqa: TC002 - FastAPI resolves the dependency's annotation at runtime
from pydantic import BaseModel, ValidationError

from airflow_provider_browserbase.local.errors import ApiError
from airflow_provider_browserbase.models import drop_unknown_fields, validation_errors

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.config import LocalConfig
    from airflow_provider_browserbase.local.state import Registry


def registry_of(request: Request) -> Registry:
    return request.app.state.registry


def config_of(request: Request) -> LocalConfig:
    return request.app.state.config


async def require_api_key(request: Request) -> None:
    given = request.headers.get("x-bb-api-key", "")
    if not secrets.compare_digest(given.encode(), config_of(request).api_key.encode()):
        raise ApiError(401, "Missing or invalid X-BB-API-Key header")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")  # Python accepts NaN and Infinity; JSON does not


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is out of range")
    return value


# Levels of nesting a JSON body may have: the deepest modelled one (proxies -> geolocation) has 4, and
# userMetadata, which nests freely, is capped at 512 characters anyway. Deeper input only costs recursion.
MAX_JSON_DEPTH = 32


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects or arrays more than ``limit`` levels deep (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


async def read_json_object(request: Request, *, required: bool = False) -> dict[str, Any]:
    """The JSON object of the body (its size is bounded by :class:`~.limits.BodyLimitMiddleware`)."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise ApiError(400, "body is required")
        return {}
    try:
        body = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ApiError(400, f"body is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body must be object")
    if json_depth_exceeds(body, MAX_JSON_DEPTH):
        raise ApiError(400, f"body is nested more than {MAX_JSON_DEPTH} levels deep")
    return body


def validation_message(exc: ValidationError) -> str:
    parts = []
    for path, rule in validation_errors(exc):
        wire = path.replace("[", "/").replace("]", "").replace(".", "/")
        parts.append(f"body/{wire} {rule}" if path != "(body)" else f"body {rule}")
    return "; ".join(parts)


def _is_bool_field(annotation: Any) -> bool:
    args = get_args(annotation) or (annotation,)
    return bool in args and all(a in (bool, type(None)) for a in args)


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    args = get_args(annotation) or (annotation,)
    return [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]


def non_boolean_fields(model: type[BaseModel], body: Any, path: str = "body") -> list[str]:
    """
    Paths of known yes/no fields in ``body`` whose value is not ``true``, ``false`` or ``null``.

    Pydantic's lax mode reads ``"yes"``, ``"on"``, ``1`` and ``"0"`` as booleans, which the client side
    wants (template-rendered settings are strings) but a server should not guess. Whether Browserbase
    coerces such values is undocumented; refusing them is the choice made here.
    """
    if not isinstance(body, dict):
        return []
    bad = []
    for name, info in model.model_fields.items():
        keys = {name, info.alias or name}
        alias = info.validation_alias
        keys.update(c for c in getattr(alias, "choices", ()) if isinstance(c, str))
        for key in keys & body.keys():
            value = body[key]
            where = f"{path}/{key}"
            if _is_bool_field(info.annotation):
                if value is not None and not isinstance(value, bool):
                    bad.append(where)
            else:
                for nested in _nested_models(info.annotation):
                    bad.extend(non_boolean_fields(nested, value, where))
    return bad


def validate_body(model: type[Any], body: dict[str, Any]) -> Any:
    # Server-side strictness for booleans, separate from the shared models (which stay lax for clients).
    not_booleans = non_boolean_fields(model, body)
    if not_booleans:
        raise ApiError(400, "; ".join(f"{where} must be boolean" for where in not_booleans))
    try:
        # Unknown fields (fingerprint, fields newer than this project) are accepted and ignored.
        return model.model_validate(drop_unknown_fields(model, body))
    except ValidationError as exc:
        raise ApiError(400, validation_message(exc)) from None
