"""
Our pydantic models against the official SDK's types (``browserbase`` 1.22): every wire name the SDK
knows, we know; a field the SDK requires is required here or ``None`` when absent, never a made-up value.
"""

from __future__ import annotations

import typing
from typing import Any

import pytest
from browserbase import types as sdk
from browserbase._utils import PropertyInfo
from browserbase.types import search_web_params as sdk_search_params
from browserbase.types import search_web_response as sdk_search
from browserbase.types import session_create_params as sdk_create
from browserbase.types import session_live_urls as sdk_live
from browserbase.types import sessions as sdk_sessions
from browserbase.types.sessions import recording as sdk_recording
from browserbase.types.sessions import replay_retrieve_response as sdk_replays
from browserbase.types.sessions import session_log as sdk_log

from airflow_provider_browserbase import models

if typing.TYPE_CHECKING:
    from pydantic import BaseModel

RESPONSES: list[tuple[type[BaseModel], type[BaseModel]]] = [
    (models.Session, sdk.Session),
    (models.SessionDetails, sdk.SessionRetrieveResponse),
    (models.CreatedSession, sdk.SessionCreateResponse),
    (models.SessionLiveURLs, sdk.SessionLiveURLs),
    (models.LivePage, sdk_live.Page),
    (models.SessionLog, sdk_log.SessionLog),
    (models.SessionLogRequest, sdk_log.Request),
    (models.SessionLogResponse, sdk_log.Response),
    (models.SessionRecordingEvent, sdk_sessions.SessionRecording),
    (models.UploadResult, sdk_sessions.UploadCreateResponse),
    (models.CreatedContext, sdk.ContextCreateResponse),
    (models.Context, sdk.Context),
    (models.Extension, sdk.Extension),
    (models.Project, sdk.Project),
    (models.ProjectUsage, sdk.ProjectUsage),
    (models.FetchResult, sdk.FetchAPICreateResponse),
    (models.SearchResults, sdk.SearchWebResponse),
    (models.SearchResult, sdk_search.Result),
    (models.RecordingDownloads, sdk_recording.DownloadListResponse),
    (models.RecordingDownloads, sdk_recording.DownloadCreateResponse),
    (models.RecordingDownload, sdk_recording.RecordingDownload),
    (models.SessionReplays, sdk_replays.ReplayRetrieveResponse),
    (models.ReplayPage, sdk_replays.Page),
]


def wire_name(name: str, info: Any) -> str:
    return info.alias or name


@pytest.mark.parametrize(
    ("ours", "theirs"), RESPONSES, ids=[f"{o.__name__}-{t.__name__}" for o, t in RESPONSES]
)
def test_response_models_read_every_sdk_field_without_inventing_values(
    ours: type[BaseModel], theirs: type[BaseModel]
) -> None:
    models.build_models()
    our_fields = {wire_name(n, i): i for n, i in ours.model_fields.items()}
    for name, info in theirs.model_fields.items():
        wire = wire_name(name, info)
        assert wire in our_fields, f"{ours.__name__} does not read {wire!r}"
        mine = our_fields[wire]
        if info.is_required() and not mine.is_required():
            invented = f"{ours.__name__}.{wire} is required by the SDK but defaults to a value"
            assert mine.default is None, invented
            assert mine.default_factory is None, invented
    assert ours.model_config.get("extra") == "allow", "fields the API adds must stay visible"


def typed_dict_wire_names(typed_dict: Any) -> set[str]:
    names = set()
    for name, hint in typing.get_type_hints(typed_dict, include_extras=True).items():
        aliases = [m.alias for m in getattr(hint, "__metadata__", ()) if isinstance(m, PropertyInfo)]
        names.add(aliases[0] if aliases and aliases[0] else name)
    return names


REQUESTS: list[tuple[type[BaseModel], Any]] = [
    (models.SessionCreateParams, sdk.SessionCreateParams),
    (models.BrowserSettings, sdk_create.BrowserSettings),
    (models.SessionContextSettings, sdk_create.BrowserSettingsContext),
    (models.Viewport, sdk_create.BrowserSettingsViewport),
    (models.BrowserbaseProxy, sdk_create.ProxiesUnionMember0BrowserbaseProxyConfig),
    (models.Geolocation, sdk_create.ProxiesUnionMember0BrowserbaseProxyConfigGeolocation),
    (models.ExternalProxy, sdk_create.ProxiesUnionMember0ExternalProxyConfig),
    (models.NoProxy, sdk_create.ProxiesUnionMember0NoneProxyConfig),
    (models.ProxySettings, sdk_create.ProxySettings),
    (models.SessionUpdateParams, sdk.SessionUpdateParams),
    (models.ContextCreateParams, sdk.ContextCreateParams),
    (models.FetchParams, sdk.FetchAPICreateParams),
    # The search body is a union of one variant per provider: ours knows the fields of them all.
    (models.SearchParams, sdk_search_params.Variant0),
    (models.SearchParams, sdk_search_params.Variant1),
    (models.SearchParams, sdk_search_params.Variant2),
]


@pytest.mark.parametrize(("ours", "theirs"), REQUESTS, ids=[o.__name__ for o, _ in REQUESTS])
def test_request_models_know_every_sdk_param(ours: type[BaseModel], theirs: Any) -> None:
    models.build_models()
    ours_wire = {(i.serialization_alias or i.alias or n) for n, i in ours.model_fields.items()}
    missing = typed_dict_wire_names(theirs) - ours_wire
    assert not missing, f"{ours.__name__} does not know {sorted(missing)}"
