"""Answers are read honestly: fields the API adds stay visible, a required field missing is an error."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from airflow_provider_browserbase.exceptions import BrowserbaseError
from tests.hooks.hook_helpers import PROJECT_ID, created_json, session_json

if TYPE_CHECKING:
    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
    from tests.hooks.hook_helpers import ScriptedApi


def test_fields_the_api_adds_are_kept(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("GET", "/v1/sessions/s-1", httpx.Response(200, json=session_json(newField={"x": 1})))
    assert hook.get_session("s-1").model_extra == {"newField": {"x": 1}}


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "call", "field"),
    [
        (
            "GET",
            f"/v1/projects/{PROJECT_ID}/usage",
            200,
            {"proxyBytes": 0},
            lambda h: h.get_project_usage(),
            "browserMinutes",
        ),
        (
            "POST",
            "/v1/sessions",
            201,
            {k: v for k, v in created_json().items() if k != "signingKey"},
            lambda h: h.create_session(),
            "signingKey",
        ),
        (
            "GET",
            "/v1/sessions/s-1/debug",
            200,
            {"debuggerUrl": "d"},
            lambda h: h.get_live_urls("s-1"),
            "pages",
        ),
    ],
    ids=["usage without minutes", "create without signing key", "live view without pages"],
)
def test_a_required_field_missing_is_an_error_not_a_made_up_value(
    method: str,
    path: str,
    status: int,
    body: dict,
    call: object,
    field: str,
    api: ScriptedApi,
    hook: BrowserbaseHook,
) -> None:
    api.on(method, path, httpx.Response(status, json=body))
    with pytest.raises(
        BrowserbaseError, match=rf"returned an answer this provider cannot read \({field}: Field required"
    ):
        call(hook)  # type: ignore[operator]


def test_a_created_session_whose_answer_cannot_be_used_is_ended(
    api: ScriptedApi, hook: BrowserbaseHook
) -> None:
    unusable = {k: v for k, v in created_json("s-9").items() if k != "signingKey"}
    api.on("POST", "/v1/sessions", httpx.Response(201, json=unusable))
    api.on("POST", "/v1/sessions/s-9", httpx.Response(200, json=session_json("s-9", status="COMPLETED")))
    with pytest.raises(BrowserbaseError, match="signingKey"):
        hook.create_session()
    (release,) = api.calls("POST", "/v1/sessions/s-9")
    assert release.content == b'{"status":"REQUEST_RELEASE","projectId":"proj-1"}'
