"""Request-body schemas for the OpenAPI document (the routes read their bodies themselves)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        # The server ignores unknown fields, and discriminator mappings would point at removed $defs.
        return {
            key: _inline(value, defs)
            for key, value in node.items()
            if key not in ("$defs", "discriminator")
            and not (key == "additionalProperties" and value is False)
        }
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


def json_body(model: type[BaseModel], *, required: bool = False) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON body of ``model``, with every reference inlined."""
    # Serialization mode gives the wire names (``timeout``, not the Python-side ``session_timeout``).
    schema = model.model_json_schema(by_alias=True, mode="serialization")
    inlined = _inline(schema, schema.get("$defs", {}))
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": inlined}}}}


def file_body() -> dict[str, Any]:
    """``openapi_extra`` declaring a multipart body with one ``file`` part."""
    schema = {
        "type": "object",
        "properties": {"file": {"type": "string", "format": "binary"}},
        "required": ["file"],
    }
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}
