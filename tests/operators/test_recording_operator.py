"""
Saving a session's video: ``BrowserbaseSessionRecordingOperator``, and ``recording_destination`` /
``save_recording`` of the browser tasks (the task's own outcome always wins).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest
from support import probe_mp4

from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.operators._recording import (
    RECORDING_XCOM_KEY,
    check_recording_arguments,
    saving_recording,
)
from airflow_provider_browserbase.operators.playwright import BrowserbasePlaywrightOperator
from airflow_provider_browserbase.operators.recording import BrowserbaseSessionRecordingOperator

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_browserbase.local.server import LocalServer


def pushed(context: dict[str, Any]) -> dict[str, Any]:
    return {call.kwargs["key"]: call.kwargs["value"] for call in context["ti"].xcom_push.call_args_list}


def assert_plays(path: Path) -> None:
    container, codec, frames, duration = probe_mp4(path.read_bytes())
    assert "mp4" in container
    assert codec == "h264"
    assert frames >= 1
    assert 0 < duration < 120


# Arguments


@pytest.mark.parametrize(
    ("destination", "save", "effective"),
    [
        (None, None, "never"),
        ("/videos", None, "on_failure"),
        ("/videos", "always", "always"),
        ("/videos", "never", "never"),
        (None, "never", "never"),
    ],
)
def test_save_recording_defaults_to_on_failure_with_a_destination(
    destination: str | None, save: str | None, effective: str
) -> None:
    assert check_recording_arguments(destination, save) == effective


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"recording_destination": "/v", "save_recording": "sometimes"}, "save_recording must be one of"),
        ({"save_recording": "always"}, "needs recording_destination"),
    ],
)
def test_bad_recording_arguments_fail_when_the_dag_is_parsed(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BrowserbasePlaywrightOperator(task_id="t", python_callable=lambda: None, **kwargs)


def test_recording_destination_is_templated() -> None:
    assert "recording_destination" in BrowserbasePlaywrightOperator.template_fields
    assert set(BrowserbaseSessionRecordingOperator.template_fields) == {
        "session_id",
        "destination",
        "browserbase_conn_id",
    }


# The wrapper's rules, with a hook whose saving is scripted


class Calls:
    def __init__(self, fail_save: bool = False) -> None:
        self.order: list[str] = []
        self.hook = mock.MagicMock(spec=BrowserbaseHook)
        self.hook.end_session.side_effect = lambda *a, **k: self.order.append("wait_ended")

        def download(session_id: str, destination: Any, **kwargs: Any) -> list[Any]:
            self.order.append("download")
            if fail_save:
                raise OSError("disk full")
            return [Path("/videos/s-1-page-0.mp4")]

        self.hook.download_recording.side_effect = download

    def wrap(
        self,
        context: dict[str, Any],
        save: Any,
        session_id: str | None = "s-1",
        ended: bool = True,
        killed: bool = False,
    ) -> Any:
        return saving_recording(
            context,
            self.hook,
            lambda: session_id,
            destination="/videos",
            save=save,
            session_ended=lambda: ended,
            task_killed=lambda: killed,
        )


class OwnError(Exception):
    pass


def test_a_failure_saves_after_the_block_then_raises_the_tasks_own_error(
    make_context: Callable[..., dict[str, Any]],
) -> None:
    calls, context = Calls(), make_context()

    def block() -> None:
        calls.order.append("block")
        raise OwnError("selector not found")

    with pytest.raises(OwnError, match="selector not found"), calls.wrap(context, "on_failure"):
        block()
    assert calls.order == ["block", "wait_ended", "download"]
    assert pushed(context)[RECORDING_XCOM_KEY] == ["/videos/s-1-page-0.mp4"]


def test_a_save_that_fails_is_logged_and_never_hides_the_tasks_error(
    make_context: Callable[..., dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    calls = Calls(fail_save=True)
    caplog.set_level(logging.WARNING)
    with pytest.raises(OwnError, match="own"), calls.wrap(make_context(), "on_failure"):
        raise OwnError("own")
    assert "Could not save the recording of Browserbase session s-1" in caplog.text
    assert "disk full" in caplog.text  # the traceback


def test_a_save_that_fails_never_fails_a_task_that_succeeded(
    make_context: Callable[..., dict[str, Any]],
) -> None:
    calls = Calls(fail_save=True)
    with calls.wrap(make_context(), "always"):
        pass
    assert calls.order == ["wait_ended", "download"]


def test_a_task_timeout_saves_too() -> None:
    from airflow.providers.common.compat.sdk import AirflowTaskTimeout

    calls = Calls()
    with pytest.raises(AirflowTaskTimeout), calls.wrap(mock.MagicMock(), "on_failure"):
        raise AirflowTaskTimeout("late")
    assert "download" in calls.order


@pytest.mark.parametrize(
    ("save", "fails", "saved"),
    [("on_failure", False, False), ("always", False, True), ("never", True, False), ("always", True, True)],
)
def test_when_a_recording_is_saved(
    make_context: Callable[..., dict[str, Any]], save: str, fails: bool, saved: bool
) -> None:
    calls = Calls()
    try:
        with calls.wrap(make_context(), save):
            if fails:
                raise OwnError
    except OwnError:
        pass
    assert ("download" in calls.order) is saved


def test_nothing_is_saved_without_a_session_of_an_attached_session_or_for_a_killed_task(
    make_context: Callable[..., dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    calls = Calls()
    with pytest.raises(OwnError), calls.wrap(make_context(), "on_failure", session_id=None):
        raise OwnError
    with pytest.raises(OwnError), calls.wrap(make_context(), "on_failure", ended=False):
        raise OwnError
    with pytest.raises(OwnError), calls.wrap(make_context(), "always", killed=True):
        raise OwnError  # on_kill: Airflow's grace period is too short to wait for a video
    assert calls.order == []
    assert "this task attached to it and leaves it running" in caplog.text


# For real, on browserbase-local


def test_the_operator_saves_a_successful_task_with_always(
    local_server: LocalServer, make_context: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    def look(page: Any) -> str:
        page.goto(f"{local_server.base_url}/demo/")
        return str(page.title())

    task = BrowserbasePlaywrightOperator(
        task_id="look",
        python_callable=look,
        recording_destination=str(tmp_path / "videos"),
        save_recording="always",
    )
    context = make_context()
    assert task.execute(context)
    (saved,) = pushed(context)[RECORDING_XCOM_KEY]
    assert Path(saved).parent == tmp_path / "videos"
    assert_plays(Path(saved))
    with BrowserbaseHook() as hook:
        assert hook.get_session(pushed(context)["session_id"]).status == "COMPLETED"


def test_recording_operator_ends_a_running_session_then_saves_each_page(
    local_server: LocalServer, make_context: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    with BrowserbaseHook() as hook:
        session = hook.create_session(keep_alive=True)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.connect_over_cdp(session.connect_url)
                browser.contexts[0].pages[0].goto(f"{local_server.base_url}/demo/")
                browser.close()
            task = BrowserbaseSessionRecordingOperator(
                task_id="save_video",
                session_id="{{ params.sid }}",
                destination=f"file://{tmp_path}/{{{{ params.folder }}}}",
                end_session=True,
            )
            task.render_template_fields({"params": {"sid": session.id, "folder": "v"}})
            (written,) = task.execute(make_context())
        finally:
            hook.end_session(session.id)
        assert hook.get_session(session.id).status == "COMPLETED"
    assert written == f"file://{tmp_path}/v/{session.id}-page-0.mp4"
    assert_plays(tmp_path / "v" / f"{session.id}-page-0.mp4")
    lineage = task.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("file", f"{tmp_path}/v/{session.id}-page-0.mp4".lstrip("/"))
    ]
