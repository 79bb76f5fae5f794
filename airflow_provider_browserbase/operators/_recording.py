"""
Saving a browser task's video: ``recording_destination`` and ``save_recording`` of
``BrowserbasePlaywrightOperator`` and ``@task.browserbase``.

:func:`saving_recording` wraps a task's whole session lifecycle. When the lifecycle has ended (the function
returned or raised, Playwright disconnected, the session's release requested), it waits until the session
is no longer running, then saves its MP4s (``BrowserbaseHook.download_recording``) when ``save_recording``
says so. The task's own outcome always wins: a failure to save is logged with its traceback and never
replaces the function's error, nor fails a task that succeeded.

Where the saved path is shown: the task's log ("Saved the recording of Browserbase session ...: <paths>")
and the XCom ``browserbase_recording`` (the paths as strings). Not an extra link: a link in Airflow's UI
is opened by the user's web browser, which cannot open a worker's file or an ``s3://`` object, so a
"recording" button would lead nowhere for every destination this feature takes.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, cast

from airflow.providers.common.compat.sdk import AirflowTaskTimeout

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

log = logging.getLogger(__name__)

SaveRecording = Literal["on_failure", "always", "never"]
SAVE_RECORDING_CHOICES: tuple[str, ...] = ("on_failure", "always", "never")
RECORDING_XCOM_KEY = "browserbase_recording"
# How long a task waits for its session to end, then for Browserbase to assemble the videos.
END_WAIT_SECONDS = 60.0
RECORDING_TIMEOUT = 300.0


def check_recording_arguments(
    recording_destination: str | ObjectStoragePath | None, save_recording: str | None
) -> SaveRecording:
    """
    The effective ``save_recording``: ``on_failure`` by default when a destination is given.

    :raises ValueError: naming the argument, for an unknown choice or a choice that needs a destination.
    """
    if save_recording is None:
        return "on_failure" if recording_destination is not None else "never"
    if save_recording not in SAVE_RECORDING_CHOICES:
        raise ValueError(
            f"save_recording must be one of {', '.join(SAVE_RECORDING_CHOICES)}; got {save_recording!r}"
        )
    if save_recording != "never" and recording_destination is None:
        raise ValueError(f"save_recording={save_recording!r} needs recording_destination (a folder or URL)")
    return cast("SaveRecording", save_recording)


@contextmanager
def saving_recording(
    context: Context,
    hook: BrowserbaseHook,
    session_id: Callable[[], str | None],
    *,
    destination: str | ObjectStoragePath | None,
    save: SaveRecording,
    session_ended: Callable[[], bool],
    task_killed: Callable[[], bool] = lambda: False,
) -> Iterator[None]:
    """
    Save the session's recording after the wrapped block, as ``save`` says; re-raise the block's error.

    :param session_id: gives the session's id once the block created or attached to one (else ``None``).
    :param session_ended: whether the block ended the session (an attached session it leaves running is
        not recorded: its video is not finished, and the task must not end a session it does not own).
    :param task_killed: whether the task is being killed (``on_kill``): then nothing is saved, since
        Airflow gives a killed task a short grace period only.
    """
    if save == "never" or destination is None:
        yield
        return
    try:
        yield
    except (Exception, AirflowTaskTimeout):
        if task_killed():
            log.info("Not saving the recording: the task was killed")
        elif save in ("on_failure", "always"):
            _save(context, hook, session_id(), destination, session_ended(), "the task failed")
        raise
    if save == "always":
        _save(context, hook, session_id(), destination, session_ended(), "save_recording='always'")


def _save(
    context: Context,
    hook: BrowserbaseHook,
    session_id: str | None,
    destination: str | ObjectStoragePath,
    ended: bool,
    why: str,
) -> None:
    if session_id is None:
        return  # no session was made: nothing was recorded
    if not ended:
        log.warning(
            "Not saving the recording of Browserbase session %s: this task attached to it and leaves it "
            "running (save it with BrowserbaseSessionRecordingOperator once it has ended)",
            session_id,
        )
        return
    try:
        written = save_session_recording(hook, session_id, destination)
    except Exception:
        log.warning(
            "Could not save the recording of Browserbase session %s (%s); the task's own outcome stands",
            session_id,
            why,
            exc_info=True,
        )
        return
    paths = [str(path) for path in written]
    if paths:
        log.info("Saved the recording of Browserbase session %s (%s): %s", session_id, why, ", ".join(paths))
    context["ti"].xcom_push(key=RECORDING_XCOM_KEY, value=paths)


def save_session_recording(
    hook: BrowserbaseHook,
    session_id: str,
    destination: str | ObjectStoragePath,
    *,
    timeout: float = RECORDING_TIMEOUT,
) -> list[Any]:
    """
    Wait for the session to end (its release was requested), then write its MP4s to ``destination``.

    A video is complete only once its session ended; Browserbase assembles it from then on.
    """
    from airflow.sdk import ObjectStoragePath

    hook.end_session(session_id, wait=True, wait_timeout=END_WAIT_SECONDS)
    return hook.download_recording(session_id, ObjectStoragePath(destination), timeout=timeout)
