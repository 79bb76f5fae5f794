"""
The ``browserbase`` connection form, declared once.

Airflow 3.2+ reads :data:`CONN_FIELDS` and :data:`UI_FIELD_BEHAVIOUR` from ``get_provider_info()`` without
importing the hook; Airflow 3.1 calls the hook's classmethods, which are built from the same data. This
module is imported by ``get_provider_info`` and must stay free of heavy imports.
"""

from __future__ import annotations

from typing import Any

DEFAULT_BASE_URL = "https://api.browserbase.com"
LOCAL_BASE_URL_EXAMPLE = "http://127.0.0.1:8787"

CONN_TYPE = "browserbase"

# Extra fields of the connection (stored under their plain name in ``Connection.extra``).
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "project_id": {
        "label": "Project ID",
        "description": "Browserbase project id; empty means the project of the API key.",
        "schema": {"type": ["string", "null"]},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "login"],
    "relabeling": {"password": "API Key", "host": "API base URL"},
    "placeholders": {
        "host": f"{DEFAULT_BASE_URL} (or {LOCAL_BASE_URL_EXAMPLE} for browserbase-local)",
        "password": "bb_live_...",
        "project_id": "Optional: the project of the API key is used when empty",
    },
}


def ui_field_behaviour_for_python_api() -> dict[str, Any]:
    """The same behaviour in the snake_case shape of ``BaseHook.get_ui_field_behaviour()`` (Airflow 3.1)."""
    return {
        "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
        "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
        "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
    }
