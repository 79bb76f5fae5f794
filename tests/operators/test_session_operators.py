from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

from airflow_provider_browserbase.exceptions import BrowserbaseValidationError
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.links.session import SESSION_URL_XCOM_KEY
from airflow_provider_browserbase.models import user_metadata_size
from airflow_provider_browserbase.operators import _session_xcom
from airflow_provider_browserbase.operators._session_settings import (
    NONCE_RESERVE,
    build_session_settings,
    tag_user_metadata,
)
from airflow_provider_browserbase.operators.session import (
    BrowserbaseCreateSessionOperator,
    BrowserbaseEndSessionOperator,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

SUMMARY_KEYS = {"id", "status", "connect_url", "selenium_remote_url", "expires_at", "project_id", "region"}


def pushed(context: dict[str, Any]) -> dict[str, Any]:
    return {call.kwargs["key"]: call.kwargs["value"] for call in context["ti"].xcom_push.call_args_list}


@pytest.fixture
def hook(quick_conn: str) -> Iterator[BrowserbaseHook]:
    with BrowserbaseHook(quick_conn) as hook:
        yield hook


def test_every_setting_is_a_rendered_template_field() -> None:
    task = BrowserbaseCreateSessionOperator(
        task_id="create",
        project_id="{{ params.project }}",
        browser_settings={"viewport": {"width": "{{ params.width }}", "height": 600}},
        proxies=[{"type": "browserbase", "geolocation": {"country": "{{ params.country }}"}}],
        region="{{ params.region }}",
        keep_alive="{{ params.keep }}",
        session_timeout="{{ params.timeout }}",
        user_metadata={"team": "{{ dag_id }}"},
        extension_id="{{ params.extension }}",
        context_id="{{ params.context }}",
        persist_context="{{ params.persist }}",
        session_settings="{{ params.session }}",
    )
    assert set(task.template_fields) >= {
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
    }
    assert {task.template_fields_renderers[f] for f in ("browser_settings", "user_metadata")} == {"json"}
    params = {
        "project": "p1",
        "width": 1024,
        "country": "DE",
        "region": "eu-central-1",
        "keep": True,
        "timeout": 600,
        "extension": "ext1",
        "context": "ctx1",
        "persist": True,
        "session": {"block": 1},
    }
    task.render_template_fields({"params": params, "dag_id": "etl"})
    assert task.project_id == "p1"
    assert task.browser_settings == {"viewport": {"width": "1024", "height": 600}}
    assert task.proxies == [{"type": "browserbase", "geolocation": {"country": "DE"}}]
    assert (task.region, task.keep_alive, task.session_timeout) == ("eu-central-1", "True", "600")
    assert task.user_metadata == {"team": "etl"}
    assert (task.extension_id, task.context_id, task.persist_context) == ("ext1", "ctx1", "True")
    assert task.session_settings == "{'block': 1}"


def test_rendered_strings_validate_into_typed_settings() -> None:
    settings = build_session_settings(
        session_settings={"keepAlive": True, "region": "us-east-1", "browserSettings": {"blockAds": True}},
        region="eu-central-1",
        session_timeout="600",
        browser_settings={"viewport": {"width": "1024", "height": 768}},
        context_id="ctx1",
        persist_context="True",
    )
    assert settings["keep_alive"] is True
    assert settings["region"] == "eu-central-1"  # explicit arguments win over session_settings
    assert settings["session_timeout"] == 600
    assert settings["browser_settings"] == {
        "block_ads": True,
        "viewport": {"width": 1024, "height": 768},
        "context": {"id": "ctx1", "persist": True},
    }


def test_json_text_from_a_single_template_is_read_as_json(
    make_context: Callable[..., dict[str, Any]],
) -> None:
    task = BrowserbaseCreateSessionOperator(
        task_id="create",
        session_settings="{{ params.session | tojson }}",
        user_metadata="{{ params.meta | tojson }}",
        proxies="{{ params.proxies }}",
    )
    task.render_template_fields(
        {
            "params": {
                "session": {"keepAlive": True, "timeout": 600},
                "meta": {"team": "data"},
                "proxies": True,
            }
        }
    )
    settings = build_session_settings(
        session_settings=task.session_settings, user_metadata=task.user_metadata, proxies=task.proxies
    )
    assert settings == {
        "keep_alive": True,
        "session_timeout": 600,
        "user_metadata": {"team": "data"},
        "proxies": True,
    }


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"session_timeout": 30}, "session_timeout"),
        ({"session_timeout": 60000}, "session_timeout"),
        ({"region": " "}, "region"),
        ({"browser_settings": {"viewport": {"width": -5}}}, "browser_settings.viewport.width"),
        ({"browser_settings": {"blockAdz": True, "blockAds": 5}}, "browser_settings.blockAds"),
        ({"proxies": {"type": "browserbase"}}, "proxies"),
        ({"user_metadata": {"tags": ["a", "b"]}}, "user_metadata"),
        ({"session_settings": {"keepAlive": "maybe"}}, "session_settings.keepAlive"),
        ({"session_settings": {"timeoutt": 100, "timeout": 1}}, "session_settings.timeout"),
        ({"session_settings": "{'keep_alive': True}"}, "session_settings"),
        ({"session_settings": "[1, 2]"}, "session_settings"),
        ({"browser_settings": "{not json"}, "browser_settings"),
        ({"persist_context": True}, "persist_context"),
        ({"user_metadata": {"airflow": "mine"}}, "user_metadata.airflow"),
        ({"user_metadata": {"note": "x" * 480}}, "user_metadata"),
    ],
)
def test_invalid_settings_fail_naming_the_field_before_any_request(
    make_context: Callable[..., dict[str, Any]], arguments: dict[str, Any], field: str
) -> None:
    task = BrowserbaseCreateSessionOperator(task_id="create", **arguments)
    with (
        mock.patch.object(BrowserbaseHook, "create_session") as create,
        pytest.raises(BrowserbaseValidationError) as err,
    ):
        task.execute(make_context())
    assert field in [name for name, _ in err.value.errors]
    assert field in str(err.value)
    create.assert_not_called()


def test_airflow_tags_merge_with_user_metadata() -> None:
    tags = {"dag_id": "d", "task_id": "t", "run_id": "r", "try_number": "2"}
    assert tag_user_metadata({"team": "data", "airflow": {"env": "prod"}}, tags) == {
        "team": "data",
        "airflow": {"env": "prod", "dag_id": "d", "task_id": "t", "run_id": "r", "try_number": "2"},
    }


def test_long_tags_are_cut_to_leave_room_for_the_nonce() -> None:
    tags = {"dag_id": "d" * 250, "task_id": "t" * 100, "run_id": "r" * 300, "try_number": "1"}
    tagged = tag_user_metadata({"note": "n" * 100}, tags)
    assert user_metadata_size(tagged) <= 512 - NONCE_RESERVE
    assert tagged["note"] == "n" * 100
    assert tagged["airflow"]["try_number"] == "1"
    assert tagged["airflow"]["run_id"].startswith("rrr")
    assert tagged["airflow"]["dag_id"].startswith("ddd")


def test_execute_creates_a_tagged_session_and_pushes_xcoms(
    quick_conn: str, hook: BrowserbaseHook, make_context: Callable[..., dict[str, Any]]
) -> None:
    context = make_context(dag_id="etl", task_id="create", run_id="manual__1", try_number=3)
    task = BrowserbaseCreateSessionOperator(
        task_id="create",
        browserbase_conn_id=quick_conn,
        region="eu-central-1",
        keep_alive=True,
        session_timeout=600,
        user_metadata={"team": "data"},
    )
    with mock.patch.object(_session_xcom, "mask_secret") as mask:
        summary = task.execute(context)
    try:
        session = hook.get_session(summary["id"])
        assert set(summary) == SUMMARY_KEYS
        assert summary["status"] in ("PENDING", "RUNNING")
        assert summary["region"] == "eu-central-1"
        assert summary["connect_url"] == session.connect_url
        assert "signing_key" not in summary
        assert session.keep_alive is True
        airflow_tags = (session.user_metadata or {})["airflow"]
        assert session.user_metadata["team"] == "data"  # type: ignore[index]
        assert {k: airflow_tags[k] for k in ("dag_id", "task_id", "run_id", "try_number")} == {
            "dag_id": "etl",
            "task_id": "create",
            "run_id": "manual__1",
            "try_number": "3",
        }
        assert len(airflow_tags["nonce"]) == 32  # added by the hook under the same key
        assert pushed(context) == {
            "session_id": session.id,
            "connect_url": session.connect_url,
            SESSION_URL_XCOM_KEY: hook.session_url(session.id),
        }
        masked = {call.args[0] for call in mask.call_args_list}
        # The signing key alone: the connect URL carries it verbatim, so masking it covers the URL.
        assert session.signing_key in masked
        assert session.signing_key in (session.connect_url or "")
    finally:
        hook.end_session(summary["id"])


def test_push_connect_url_false_keeps_it_out_of_xcom(
    quick_conn: str, hook: BrowserbaseHook, make_context: Callable[..., dict[str, Any]]
) -> None:
    context = make_context()
    task = BrowserbaseCreateSessionOperator(
        task_id="create", browserbase_conn_id=quick_conn, push_connect_url=False
    )
    summary = task.execute(context)
    signing_key = hook.get_session(summary["id"]).signing_key
    hook.end_session(summary["id"])
    assert signing_key
    assert signing_key not in json.dumps([summary, pushed(context)])
    assert "connect_url" not in summary
    assert "selenium_remote_url" not in summary
    assert set(pushed(context)) == {"session_id", SESSION_URL_XCOM_KEY}


def test_session_with_a_context_to_persist(
    quick_conn: str, hook: BrowserbaseHook, make_context: Callable[..., dict[str, Any]]
) -> None:
    created = hook.create_context()
    task = BrowserbaseCreateSessionOperator(
        task_id="create", browserbase_conn_id=quick_conn, context_id=created.id, persist_context=True
    )
    summary = task.execute(make_context())
    try:
        assert hook.get_session(summary["id"]).context_id == created.id
    finally:
        hook.end_session(summary["id"], wait=True, wait_timeout=10, poll_interval=0.05)
        hook.delete_context(created.id)


@pytest.mark.parametrize(("keep_alive", "status_after_kill"), [(None, "COMPLETED"), (True, "RUNNING")])
def test_on_kill_ends_the_created_session_unless_keep_alive(
    quick_conn: str,
    hook: BrowserbaseHook,
    make_context: Callable[..., dict[str, Any]],
    keep_alive: bool | None,
    status_after_kill: str,
) -> None:
    task = BrowserbaseCreateSessionOperator(
        task_id="create",
        browserbase_conn_id=quick_conn,
        keep_alive=keep_alive,
        session_timeout=3600,  # 36 s on the quick server: not timed out before the check, however slow
    )
    summary = task.execute(make_context())
    try:
        task.on_kill()
        session = hook.get_session(summary["id"])
        if status_after_kill == "COMPLETED":
            session = (
                hook.end_session(summary["id"], wait=True, wait_timeout=10, poll_interval=0.05) or session
            )
        assert session.status == status_after_kill
    finally:
        hook.end_session(summary["id"])


def test_on_kill_before_create_does_nothing() -> None:
    task = BrowserbaseCreateSessionOperator(task_id="create")
    with mock.patch.object(BrowserbaseHook, "end_session") as end:
        task.on_kill()
    end.assert_not_called()


def test_end_session_is_idempotent_and_can_wait(
    quick_conn: str, hook: BrowserbaseHook, make_context: Callable[..., dict[str, Any]]
) -> None:
    session = hook.create_session(keep_alive=True, session_timeout=600)
    task = BrowserbaseEndSessionOperator(
        task_id="end",
        session_id="{{ params.sid }}",
        browserbase_conn_id=quick_conn,
        wait_for_termination=True,
        poll_interval=0.05,
        trigger_rule="all_done",
    )
    task.render_template_fields({"params": {"sid": session.id}})
    assert task.execute(make_context()) == "COMPLETED"
    assert task.execute(make_context()) == "COMPLETED"
    assert hook.get_session(session.id).status == "COMPLETED"


def test_end_unknown_session_is_success(quick_conn: str, make_context: Callable[..., dict[str, Any]]) -> None:
    task = BrowserbaseEndSessionOperator(
        task_id="end", session_id="no-such-session", browserbase_conn_id=quick_conn
    )
    assert task.execute(make_context()) is None
