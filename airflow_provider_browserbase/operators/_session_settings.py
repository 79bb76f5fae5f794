"""Session settings shared by every operator that creates a session: merge, validate, tag."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_browserbase.callbacks import task_instance_tags
from airflow_provider_browserbase.exceptions import BrowserbaseValidationError
from airflow_provider_browserbase.models import (
    MAX_SESSION_TIMEOUT,
    MAX_USER_METADATA_CHARS,
    MIN_SESSION_TIMEOUT,
    user_metadata_size,
    validate_session_settings,
)

if TYPE_CHECKING:
    from datetime import timedelta

    from airflow.sdk import Context

#: The operator arguments that are session settings, in the order of the API contract.
SESSION_SETTING_ARGS: tuple[str, ...] = (
    "project_id",
    "browser_settings",
    "proxies",
    "region",
    "keep_alive",
    "session_timeout",
    "user_metadata",
    "extension_id",
    "context_id",
    "persist_context",
    "session_settings",
)

SESSION_SETTING_RENDERERS: dict[str, str] = {
    "browser_settings": "json",
    "proxies": "json",
    "user_metadata": "json",
    "session_settings": "json",
}

#: ``userMetadata`` key holding the Airflow tags (the hook adds its create nonce under it too).
AIRFLOW_METADATA_KEY = "airflow"

# The hook adds ',"nonce":"<32 hex digits>"' (43 characters) under the same key; keep room for it.
NONCE_RESERVE = 48


# Fields holding JSON objects or lists. Rendered from one template (``"{{ params.x | tojson }}"``) they
# arrive as strings, so a string here is read as JSON.
_JSON_ARGS = ("session_settings", "browser_settings", "proxies", "user_metadata")


def _decode_rendered(name: str, value: Any) -> Any:
    if not isinstance(value, str) or name not in _JSON_ARGS:
        return value
    text = value.strip()
    if name == "proxies" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return json.loads(text)
    except ValueError:
        raise BrowserbaseValidationError(
            [(name, "must be a JSON object or list; a template can render one with '| tojson'")],
            "session settings",
        ) from None


def _validated(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Validate settings and return them as snake_case values, naming ``prefix.field`` on error."""
    try:
        params = validate_session_settings(settings)
    except BrowserbaseValidationError as err:
        if not prefix:
            raise
        raise BrowserbaseValidationError(
            [(f"{prefix}.{field}", rule) for field, rule in err.errors], err.what
        ) from None
    return params.model_dump(exclude_none=True)


def build_session_settings(
    *,
    session_settings: Mapping[str, Any] | None = None,
    context_id: str | None = None,
    persist_context: bool | None = None,
    **explicit: Any,
) -> dict[str, Any]:
    """
    Merge rendered operator arguments into validated create settings (snake_case names).

    ``session_settings`` (a whole dict, e.g. from ``params``, or its JSON text) is the base; explicit
    arguments that are not ``None`` override it, ``browser_settings`` key by key. ``context_id`` and
    ``persist_context`` become ``browser_settings.context``.

    :raises BrowserbaseValidationError: naming the bad field, before any request is sent.
    """
    session_settings = _decode_rendered("session_settings", session_settings)
    explicit = {name: _decode_rendered(name, value) for name, value in explicit.items()}
    if session_settings is not None and not isinstance(session_settings, Mapping):
        raise BrowserbaseValidationError(
            [("session_settings", f"must be a dict, got {type(session_settings).__name__}")],
            "session settings",
        )
    base = _validated(session_settings, "session_settings") if session_settings else {}
    given = _validated({name: value for name, value in explicit.items() if value is not None})
    merged = {**base, **given}
    if "browser_settings" in base and "browser_settings" in given:
        merged["browser_settings"] = {**base["browser_settings"], **given["browser_settings"]}
    if context_id is not None or persist_context is not None:
        browser_settings = dict(merged.get("browser_settings") or {})
        context = dict(browser_settings.get("context") or {})
        if context_id is not None:
            context["id"] = context_id
        if persist_context is not None:
            context["persist"] = persist_context
        if "id" not in context:
            raise BrowserbaseValidationError(
                [("persist_context", "needs context_id (or browser_settings.context.id)")], "session settings"
            )
        browser_settings["context"] = context
        merged["browser_settings"] = browser_settings
    return _validated(merged)


def airflow_tags(context: Context) -> dict[str, str]:
    """The task instance's identity, as the string values ``userMetadata`` can be queried by."""
    return task_instance_tags(context["ti"])


def tag_user_metadata(
    user_metadata: Mapping[str, Any] | None,
    tags: Mapping[str, str],
    limit: int = MAX_USER_METADATA_CHARS - NONCE_RESERVE,
) -> dict[str, Any]:
    """
    Merge the Airflow ``tags`` under ``userMetadata.airflow``, shortening them to stay within ``limit``.

    The user's metadata is kept whole; tag values are cut to a common length, longest first.

    :raises BrowserbaseValidationError: if the user's metadata leaves no room for the tags.
    """
    metadata = dict(user_metadata or {})
    existing = metadata.get(AIRFLOW_METADATA_KEY, {})
    if not isinstance(existing, Mapping):
        raise BrowserbaseValidationError(
            [(f"user_metadata.{AIRFLOW_METADATA_KEY}", "is reserved for the Airflow tags; use another key")],
            "session settings",
        )

    def tagged(cap: int) -> dict[str, Any]:
        return {**metadata, AIRFLOW_METADATA_KEY: {**existing, **{k: v[:cap] for k, v in tags.items()}}}

    longest = max((len(value) for value in tags.values()), default=0)
    if user_metadata_size(tagged(longest)) <= limit:
        return tagged(longest)
    if user_metadata_size(tagged(0)) > limit:
        raise BrowserbaseValidationError(
            [("user_metadata", f"leaves no room for the Airflow tags (at most {limit} characters in all)")],
            "session settings",
        )
    # The longest cap that fits: long values (usually the run id) are cut, short ones stay whole.
    low, high = 0, longest
    while low < high:
        middle = (low + high + 1) // 2
        if user_metadata_size(tagged(middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    return tagged(low)


#: Seconds a session may outlive its task's ``execution_timeout`` when its timeout is derived from it: time
#: for the task's own clean-up (Airflow sends SIGTERM at the timeout, ``on_kill`` ends the session) and the
#: API's answer, so that the session's timeout never ends it under a task still within its limit.
SESSION_TIMEOUT_MARGIN = 60


def derived_session_timeout(execution_timeout: timedelta | None) -> int | None:
    """
    The session timeout that follows a task's ``execution_timeout``: that plus a minute, in 60–21600 s.

    ``None`` (no ``execution_timeout``) leaves the timeout to the project's default. A task allowed more
    than six hours still gets at most 21600 s, the API's limit.
    """
    if execution_timeout is None:
        return None
    seconds = math.ceil(execution_timeout.total_seconds()) + SESSION_TIMEOUT_MARGIN
    return min(max(seconds, MIN_SESSION_TIMEOUT), MAX_SESSION_TIMEOUT)


def session_settings_for_task(
    context: Context, operator: Any, *, keep_alive_outlives_task: bool = False
) -> dict[str, Any]:
    """
    Build, tag and validate the settings of a session created by ``operator`` in this task.

    Without a ``session_timeout`` (an argument or a key of ``session_settings``), the timeout follows the
    task's ``execution_timeout`` (:func:`derived_session_timeout`), so a session whose task was killed
    without any clean-up still ends; except for a ``keep_alive`` session when ``keep_alive_outlives_task``
    (the create operator's, made for downstream tasks).
    """
    settings = build_session_settings(**{name: getattr(operator, name) for name in SESSION_SETTING_ARGS})
    settings["user_metadata"] = tag_user_metadata(settings.get("user_metadata"), airflow_tags(context))
    outlives_task = keep_alive_outlives_task and bool(settings.get("keep_alive"))
    if settings.get("session_timeout") is None and not outlives_task:
        derived = derived_session_timeout(getattr(operator, "execution_timeout", None))
        if derived is not None:
            settings["session_timeout"] = derived
    return _validated(settings)
