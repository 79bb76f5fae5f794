"""
``BrowserbaseLiveHandoffOperator`` on Airflow's HITL machinery, against API-only ``browserbase-local``.

Airflow's side is the real ``HITLOperator`` (its request write is recorded instead of sent to a
supervisor): on Airflow 3.3 it parks the task with ``TaskAwaitingInput``, on 3.1–3.2 it defers to
``HITLTrigger``; these tests run on both. The sessions are real (no browser): every path is checked to
leave none RUNNING. What a browser must do (open the start page, check the pages) is the system test's
and ``test_handoff_browser.py``'s; here the page check is replaced where an answer needs one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from unittest import mock
from uuid import uuid4

import pytest
from airflow.providers.common.compat.sdk import AirflowSkipException, TaskDeferred
from airflow.providers.standard.exceptions import HITLTimeoutError
from airflow.providers.standard.version_compat import AIRFLOW_V_3_3_PLUS

from airflow_provider_browserbase.exceptions import BrowserbaseLiveHandoffError, BrowserbaseValidationError
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.links.live_view import LIVE_VIEW_URL_XCOM_KEY
from airflow_provider_browserbase.operators.handoff import (
    BrowserbaseLiveHandoffOperator,
    handoff_session_timeout,
    with_live_view_link,
)
from tests.support import connection_uri_env

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_browserbase.local.server import LocalServer

if AIRFLOW_V_3_3_PLUS:
    from airflow.sdk.exceptions import TaskAwaitingInput

    WAITS: tuple[type[BaseException], ...] = (TaskAwaitingInput,)
else:
    WAITS = (TaskDeferred,)

CONN_ID = "browserbase_handoff"


@pytest.fixture
def conn(api_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}", connection_uri_env(api_server.base_url, api_server.api_key)
    )
    return CONN_ID


@pytest.fixture
def hook(conn: str) -> Iterator[BrowserbaseHook]:
    with BrowserbaseHook(conn) as made:
        yield made


@pytest.fixture
def requests() -> Iterator[list[dict[str, Any]]]:
    """The HITL requests the operator writes (``upsert_hitl_detail``), in order."""
    written: list[dict[str, Any]] = []
    with mock.patch(
        "airflow.providers.standard.operators.hitl.upsert_hitl_detail",
        side_effect=lambda **fields: written.append(fields),
    ):
        yield written


@pytest.fixture
def context(make_context: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """A task context whose ``ti`` keeps XComs (pushed values come back from ``xcom_pull``)."""
    made = make_context(task_id="hand_over", id=uuid4())
    store: dict[str, Any] = {}
    made["ti"].xcom_push.side_effect = lambda key, value: store.__setitem__(key, value)
    made["ti"].xcom_pull.side_effect = lambda task_ids=None, key="return_value", **_: store.get(key)
    made["task_instance"] = made["ti"]
    made["xcom"] = store
    return made


def answer(*chosen: str) -> dict[str, Any]:
    """The event Airflow resumes the task with after a person's answer."""
    return {
        "chosen_options": list(chosen),
        "params_input": {},
        "responded_at": datetime.now(UTC),
        "responded_by_user": {"id": "admin", "name": "admin"},
    }


TIMED_OUT = {
    "error": "The Human-in-the-loop response timeout has passed without a response.",
    "error_type": "timeout",
}


def handoff(conn: str, **kwargs: Any) -> BrowserbaseLiveHandoffOperator:
    kwargs.setdefault("task_id", "hand_over")
    return BrowserbaseLiveHandoffOperator(browserbase_conn_id=conn, **kwargs)


def wait_for_person(task: BrowserbaseLiveHandoffOperator, context: dict[str, Any]) -> BaseException:
    with pytest.raises(WAITS) as waiting:
        task.execute(context)
    return waiting.value


def status(hook: BrowserbaseHook, session_id: str) -> str:
    return hook.get_session(session_id).status


def test_it_creates_a_keep_alive_session_links_its_live_view_and_asks_through_airflow(
    conn: str, hook: BrowserbaseHook, context: dict[str, Any], requests: list[dict[str, Any]]
) -> None:
    task = handoff(
        conn,
        subject="Sign in to the shop",
        body="Enter the code from the *codes* page.",
        response_timeout=timedelta(minutes=30),
        assigned_users=[{"id": "ops", "name": "Ops"}],
    )
    waiting = wait_for_person(task, context)

    session_id = context["xcom"]["session_id"]
    session = hook.get_session(session_id)
    assert session.status == "RUNNING"
    assert session.keep_alive is True
    live_url = context["xcom"][LIVE_VIEW_URL_XCOM_KEY]
    assert "/live?" in live_url
    assert "token=" in live_url
    assert "fullscreen=1" in live_url
    # One request, as HITLOperator writes it: the body with the link, the options, the assignee.
    [request] = requests
    assert request["subject"] == "Sign in to the shop"
    assert request["options"] == ["Done", "Cancel"]
    assert request["body"].startswith("Enter the code from the *codes* page.\n\n")
    assert f"]({live_url})" in request["body"]
    assert request["assigned_users"] == [{"id": "ops", "name": "Ops"}]
    # Listeners get the body as the DAG wrote it: the URL is a credential.
    assert live_url not in str(task.hitl_summary)
    assert task.hitl_summary["body"] == "Enter the code from the *codes* page."
    if AIRFLOW_V_3_3_PLUS:
        assert waiting.method_name == "execute_complete"  # type: ignore[attr-defined]
        assert waiting.timeout == timedelta(minutes=30)  # type: ignore[attr-defined]
    else:
        assert type(waiting.trigger).__name__ == "HITLTrigger"  # type: ignore[attr-defined]
        assert waiting.method_name == "execute_complete"  # type: ignore[attr-defined]
    # The session outlives the response timeout by ten minutes, no more.
    assert session.expires_at is not None
    assert session.started_at is not None
    lifetime = (session.expires_at - session.started_at).total_seconds()
    assert abs(lifetime - (30 * 60 + 600)) < 5

    result = task.execute_complete(context, answer("Done"))
    assert result == {"session_id": session_id, "context_id": None, "chosen_options": ["Done"]}
    assert status(hook, session_id) == "COMPLETED"


def test_cancel_ends_the_session_and_skips(
    conn: str, hook: BrowserbaseHook, context: dict[str, Any], requests: list[dict[str, Any]]
) -> None:
    task = handoff(conn)
    wait_for_person(task, context)
    session_id = context["xcom"]["session_id"]
    with pytest.raises(AirflowSkipException, match="answered \\['Cancel'\\]"):
        task.execute_complete(context, answer("Cancel"))
    assert status(hook, session_id) == "COMPLETED"


def test_a_response_timeout_ends_the_session_and_fails(
    conn: str, hook: BrowserbaseHook, context: dict[str, Any], requests: list[dict[str, Any]]
) -> None:
    task = handoff(conn, response_timeout=timedelta(minutes=1))
    wait_for_person(task, context)
    session_id = context["xcom"]["session_id"]
    with pytest.raises(HITLTimeoutError):
        task.execute_complete(context, TIMED_OUT)
    assert status(hook, session_id) == "COMPLETED"


def test_keep_session_leaves_it_running_on_done_and_on_cancel(
    conn: str, hook: BrowserbaseHook, context: dict[str, Any], requests: list[dict[str, Any]]
) -> None:
    task = handoff(conn, keep_session=True)
    assert BrowserbaseLiveHandoffOperator(task_id="other").on_failure_callback  # cleanup by default
    assert not task.on_failure_callback  # none with keep_session
    wait_for_person(task, context)
    session_id = context["xcom"]["session_id"]
    assert task.execute_complete(context, answer("Done"))["session_id"] == session_id
    with pytest.raises(AirflowSkipException):
        task.execute_complete(context, answer("Cancel"))
    assert status(hook, session_id) == "RUNNING"
    hook.end_session(session_id)


def test_an_unmet_check_asks_again_then_fails_naming_what_it_saw(
    conn: str, hook: BrowserbaseHook, context: dict[str, Any], requests: list[dict[str, Any]]
) -> None:
    task = handoff(conn, done_when_url_matches=r"/account$", max_answers=2)
    wait_for_person(task, context)
    session_id = context["xcom"]["session_id"]
    seen = "no page's URL matches '/account$' (pages: https://shop.test/verify)"
    with mock.patch.object(task, "_unmet_condition", return_value=seen):
        # First "Done": the same request again (Airflow clears the answer), the session still running.
        with pytest.raises(WAITS):
            task.execute_complete(context, answer("Done"))
        assert len(requests) == 2
        assert requests[1]["options"] == requests[0]["options"]
        assert status(hook, session_id) == "RUNNING"
        failed = r"answered \['Done'\] 2 time\(s\), but no page"
        with pytest.raises(BrowserbaseLiveHandoffError, match=failed):
            task.execute_complete(context, answer("Done"))
    assert status(hook, session_id) == "COMPLETED"


def test_a_met_check_returns_with_the_context(
    conn: str, hook: BrowserbaseHook, context: dict[str, Any], requests: list[dict[str, Any]]
) -> None:
    context_id = hook.create_context().id
    task = handoff(conn, context_id=context_id, persist_context=True, done_when_selector="#signed-in-as")
    wait_for_person(task, context)
    session_id = context["xcom"]["session_id"]
    assert hook.get_session(session_id).context_id == context_id
    with mock.patch.object(task, "_unmet_condition", return_value=None) as check:
        result = task.execute_complete(context, answer("Done"))
    check.assert_called_once_with(session_id)
    assert result == {"session_id": session_id, "context_id": context_id, "chosen_options": ["Done"]}
    assert status(hook, session_id) == "COMPLETED"


def test_it_attaches_to_a_running_session_and_ends_it_after(
    conn: str, hook: BrowserbaseHook, context: dict[str, Any], requests: list[dict[str, Any]]
) -> None:
    running = hook.create_session(keep_alive=True, session_timeout=300)
    task = handoff(conn, session_id=running.id)
    wait_for_person(task, context)
    assert context["xcom"]["session_id"] == running.id
    task.execute_complete(context, answer("Done"))
    assert status(hook, running.id) == "COMPLETED"


def test_a_failure_before_the_request_ends_the_session(
    conn: str, hook: BrowserbaseHook, context: dict[str, Any], requests: list[dict[str, Any]]
) -> None:
    task = handoff(conn)
    with (
        mock.patch.object(BrowserbaseHook, "get_live_urls", side_effect=RuntimeError("debug failed")),
        pytest.raises(RuntimeError, match="debug failed"),
    ):
        task.execute(context)
    assert status(hook, context["xcom"]["session_id"]) == "COMPLETED"
    assert requests == []


def test_on_kill_ends_the_session(
    conn: str, hook: BrowserbaseHook, context: dict[str, Any], requests: list[dict[str, Any]]
) -> None:
    task = handoff(conn)
    wait_for_person(task, context)
    task.on_kill()
    assert status(hook, context["xcom"]["session_id"]) == "COMPLETED"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"done_when_url_matches": "(unclosed"}, "done_when_url_matches: is not a valid regular expression"),
        ({"done_when_selector": "  "}, "done_when_selector: must not be empty"),
        ({"start_url": "javascript:alert(1)"}, "start_url: must be an http:// or https:// URL"),
        ({"session_id": "abc", "context_id": "ctx"}, "context_id: cannot be used with session_id"),
    ],
)
def test_bad_arguments_fail_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(BrowserbaseValidationError, match=field):
        BrowserbaseLiveHandoffOperator(task_id="hand_over", **kwargs)


def test_templated_arguments_are_checked_once_rendered(
    conn: str, context: dict[str, Any], requests: list[dict[str, Any]]
) -> None:
    task = handoff(conn, done_when_url_matches="{{ params.pattern }}")  # not checked before rendering
    task.done_when_url_matches = "(unclosed"  # as rendered
    with pytest.raises(BrowserbaseValidationError, match="done_when_url_matches"):
        task.execute(context)
    assert "session_id" not in context["xcom"]  # before any request


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"done_options": ["Finished"]}, "done_options \\['Finished'\\] must be among options"),
        ({"max_answers": 0}, "max_answers must be at least 1"),
        ({"options": []}, "cannot be empty"),
    ],
)
def test_answers_that_cannot_work_are_refused_at_parse_time(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BrowserbaseLiveHandoffOperator(task_id="hand_over", **kwargs)


def test_a_session_timeout_in_session_settings_is_kept(
    conn: str, hook: BrowserbaseHook, context: dict[str, Any], requests: list[dict[str, Any]]
) -> None:
    task = handoff(conn, session_settings={"session_timeout": 120}, response_timeout=timedelta(hours=1))
    wait_for_person(task, context)
    session = hook.get_session(context["xcom"]["session_id"])
    assert session.expires_at is not None
    assert session.started_at is not None
    assert abs((session.expires_at - session.started_at).total_seconds() - 120) < 5
    task.on_kill()


def test_the_session_lifetime_follows_the_response_timeout() -> None:
    assert handoff_session_timeout(None) == 3600
    assert handoff_session_timeout(timedelta(minutes=5)) == 900
    assert handoff_session_timeout(timedelta(hours=10)) == 21600


def test_the_link_goes_below_the_dags_text() -> None:
    assert with_live_view_link(None, "http://x/live?token=t").startswith("**[Open the browser (live view)]")
    assert with_live_view_link("Do it.\n", "http://x/l").startswith("Do it.\n\n**[Open the browser")


def test_every_argument_a_dag_may_template_is_a_template_field() -> None:
    fields = set(BrowserbaseLiveHandoffOperator.template_fields)
    assert {"subject", "body", "start_url", "session_id", "context_id", "done_when_url_matches"} <= fields
    assert {"done_when_selector", "browserbase_conn_id", "browser_settings"} <= fields
