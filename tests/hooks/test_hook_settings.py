"""Forward-compatible session settings: unknown fields go through unchanged with one warning, known ones
are still validated before any request."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from airflow_provider_browserbase.exceptions import BrowserbaseValidationError
from airflow_provider_browserbase.models import settings_warnings, validate_session_settings
from airflow_provider_browserbase.operators._session_settings import build_session_settings
from tests.hooks.hook_helpers import created_json

if TYPE_CHECKING:
    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
    from tests.hooks.hook_helpers import ScriptedApi

WARNING = "Browserbase session settings:"


def created_body(api: ScriptedApi) -> dict[str, Any]:
    (request,) = api.calls("POST", "/v1/sessions")
    return json.loads(request.content)


def test_unknown_fields_reach_the_api_unchanged_with_one_warning(
    api: ScriptedApi, hook: BrowserbaseHook, capsys: pytest.CaptureFixture[str]
) -> None:
    api.on("POST", "/v1/sessions", httpx.Response(201, json=created_json()))
    hook.create_session(
        browser_settings={"someNewFlag": True, "blockAds": True, "viewport": {"width": 800, "dpr": 2}},
        proxies=[{"type": "browserbase", "newOption": "x", "geolocation": {"country": "US", "zip": "1"}}],
        region="ap-northeast-1",
        futureTopLevel={"a": 1},
        keepalive=True,
    )
    body = created_body(api)
    assert body["browserSettings"] == {
        "someNewFlag": True,
        "blockAds": True,
        "viewport": {"width": 800, "dpr": 2},
    }
    assert body["proxies"] == [
        {"type": "browserbase", "newOption": "x", "geolocation": {"country": "US", "zip": "1"}}
    ]
    assert body["region"] == "ap-northeast-1"
    assert body["futureTopLevel"] == {"a": 1}
    assert body["keepalive"] is True  # a typo is the user's to fix: sent as written, but warned about
    assert "keepAlive" not in body

    lines = [line for line in capsys.readouterr().out.splitlines() if WARNING in line]
    assert len(lines) == 1, lines
    (line,) = lines
    for name in (
        "browser_settings.someNewFlag",
        "browser_settings.viewport.dpr",
        "proxies[0].newOption",
        "proxies[0].geolocation.zip",
        "futureTopLevel",
        "keepalive (did you mean 'keepAlive'?)",
        "region 'ap-northeast-1' is not one of the regions",
    ):
        assert name in line, (name, line)
    assert "'x'" not in line  # names only, never values (a proxy entry may hold a password)


def test_known_settings_give_no_warning(
    api: ScriptedApi, hook: BrowserbaseHook, capsys: pytest.CaptureFixture[str]
) -> None:
    api.on("POST", "/v1/sessions", httpx.Response(201, json=created_json()))
    hook.create_session(browserSettings={"blockAds": True}, region="eu-central-1", keep_alive=False)
    assert WARNING not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"browser_settings": {"someNewFlag": True, "blockAds": "maybe"}}, "browser_settings.blockAds"),
        ({"futureTopLevel": 1, "session_timeout": 30}, "session_timeout"),
        ({"proxies": [{"type": "external", "newOption": 1}]}, "proxies[0].server"),
        ({"region": ""}, "region"),
        ({"region": "   "}, "region"),
        ({"region": 7}, "region"),
    ],
)
def test_known_fields_are_still_validated_before_any_request(
    settings: dict[str, Any], field: str, api: ScriptedApi, hook: BrowserbaseHook
) -> None:
    with pytest.raises(BrowserbaseValidationError) as raised:
        hook.create_session(**settings)
    assert field in [name for name, _ in raised.value.errors], raised.value.errors
    assert api.requests == []


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("keepalive", "keepAlive"),
        ("KeepAlive", "keepAlive"),
        ("keep_alive_", "keep_alive"),
        ("keepAlvie", "keepAlive"),
        ("project_ID", "project_id"),
        ("somethingElse", None),
    ],
)
def test_the_closest_known_name_is_suggested(key: str, hint: str | None) -> None:
    (note,) = settings_warnings(validate_session_settings({key: True}))
    if hint:
        assert f"{key} (did you mean {hint!r}?)" in note
    else:
        assert "did you mean" not in note


def test_operator_settings_keep_unknown_fields_through_the_merge() -> None:
    settings = build_session_settings(
        session_settings={"futureTopLevel": 1, "browserSettings": {"someNewFlag": True}},
        browser_settings={"blockAds": True, "otherNewFlag": "x"},
        region="ap-northeast-1",
    )
    assert settings["futureTopLevel"] == 1
    assert settings["region"] == "ap-northeast-1"
    assert settings["browser_settings"] == {"someNewFlag": True, "block_ads": True, "otherNewFlag": "x"}
    body = validate_session_settings(settings).to_api()
    assert body["browserSettings"] == {"someNewFlag": True, "blockAds": True, "otherNewFlag": "x"}
    assert body["futureTopLevel"] == 1
