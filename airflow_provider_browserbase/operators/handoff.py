"""Hand a browser to a person through Airflow's human-in-the-loop machinery, then take it back."""

from __future__ import annotations

import re
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowSkipException
from airflow.providers.standard.operators.hitl import HITLOperator

from airflow_provider_browserbase.callbacks import attach_session_cleanup, end_earlier_tries
from airflow_provider_browserbase.exceptions import (
    BrowserbaseError,
    BrowserbaseLiveHandoffError,
    BrowserbaseValidationError,
)
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.links.live_view import BrowserbaseLiveViewLink
from airflow_provider_browserbase.links.session import BrowserbaseSessionLink
from airflow_provider_browserbase.models import MAX_SESSION_TIMEOUT, MIN_SESSION_TIMEOUT
from airflow_provider_browserbase.operators._session_settings import (
    SESSION_SETTING_ARGS,
    SESSION_SETTING_RENDERERS,
    session_settings_for_task,
)
from airflow_provider_browserbase.operators._session_xcom import SESSION_ID_XCOM_KEY, publish_session

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import timedelta

    from airflow.sdk import Context

#: XCom key counting the person's answers that did not pass the check (for ``max_answers``).
ANSWERS_XCOM_KEY = "browserbase_handoff_answers"
#: Session lifetime when neither ``session_timeout`` nor ``response_timeout`` is given.
DEFAULT_HANDOFF_SESSION_TIMEOUT = 3600
#: Seconds a handoff session outlives ``response_timeout``: time to take the answer and end it cleanly.
RESPONSE_MARGIN = 600
# Settings of a session the operator creates; an attached session (``session_id``) has its own.
_CREATE_ONLY = ("browser_settings", "proxies", "region", "context_id", "persist_context", "extension_id")


class BrowserbaseLiveHandoffOperator(HITLOperator):
    """
    Hand a live browser to a person in Airflow's "Required Actions", then continue with it.

    Some steps only a person can do: a login with a one-time code, a captcha, a consent screen. The
    operator creates a ``keep_alive`` session (or attaches to ``session_id``), optionally loading a context
    (``context_id``, ``persist_context=True`` to save the login), opens ``start_url``, and asks a person
    through Airflow's own human-in-the-loop operator: the request's ``body`` gets a link to the session's
    live view, and the task gets a "Browserbase Live View" button. The person works in the live view, then
    answers in Airflow. The waiting is Airflow's: on 3.3 the task waits in ``awaiting_input`` with no
    process, on 3.1–3.2 it defers to the HITL trigger; ``response_timeout``, ``assigned_users`` and
    ``notifiers`` work as for any ``HITLOperator``.

    After "Done" (any of ``done_options``), the operator checks the browser when told to
    (``done_when_url_matches``, ``done_when_selector``): if no page of the session passes, the person is
    asked again, up to ``max_answers`` answers in all, then the task fails naming what it saw. Then it ends
    the session (which saves the context; it waits until the API reports the session ended) or, with
    ``keep_session=True``, leaves it running for the next task. It returns
    ``{"session_id", "context_id", "chosen_options"}``.

    Any other answer ("Cancel") ends the session and skips the task, so that tasks after it are skipped
    by their default trigger rule (as ``ApprovalOperator`` does on a rejection). A response timeout
    without ``defaults`` fails the task (Airflow's ``HITLTimeoutError``) after ending the session; with
    ``defaults`` the default answer is taken as if the person had given it. A failure before the wait and a
    kill of the task end the session too (``on_kill``, and ``end_browserbase_sessions`` in the failure
    callbacks). While the task waits no process of it runs, so nothing of the task can notice a run marked
    failed by hand: the session then ends at its own ``session_timeout`` (by default ``response_timeout``
    plus ten minutes, else an hour), or by the janitor. ``keep_session=True`` leaves the session running on
    every path: end it downstream (``BrowserbaseEndSessionOperator`` with ``trigger_rule="all_done"``).

    The live-view URL is a credential: whoever holds it controls the browser until the session ends. It is
    masked in the task's logs and left out of the rendered fields and of the request summary given to
    listeners (``hitl_summary``), but it is written where the person needs it: the HITL request's body
    (shown to users who may see the task, on the Required Actions page and by the REST API) and the XCom
    behind the "Browserbase Live View" button. Keep the session short-lived and the task's readers few.

    :param subject: the request's headline (templated).
    :param body: Markdown instructions for the person (templated); the live-view link is added below them.
    :param options: the answers offered; ``["Done", "Cancel"]`` by default.
    :param done_options: the answers meaning "I finished"; any other answer skips the task.
    :param start_url: the page to open before asking (templated); ``None`` leaves the session's page as is.
    :param session_id: attach to this running session instead of creating one (templated).
    :param done_when_url_matches: a regular expression (``re.search``) that some page's URL must match
        after "Done" (templated).
    :param done_when_selector: a CSS selector that must be present on some page after "Done" (templated).
    :param max_answers: how many "Done" answers are checked before the task fails (1 = never ask again).
    :param check_timeout: seconds to keep checking the pages after an answer (pages may still be loading).
    :param keep_session: leave the session running on every path, for a downstream task.
    :param browserbase_conn_id: the Browserbase connection (templated).
    :param session_timeout: the session's lifetime in seconds (60–21600); see above for the default.
    :param context_id: a context to load into the created session (templated).
    :param persist_context: save the session's browser state to ``context_id`` when it ends.
    :param api_timeout: seconds to wait for each API answer.
    :param end_sessions_on_failure: add ``end_browserbase_sessions`` to the failure and retry callbacks
        (not with ``keep_session``).

    ``project_id``, ``browser_settings``, ``proxies``, ``region``, ``user_metadata``, ``extension_id`` and
    ``session_settings`` are the create settings of :class:`BrowserbaseCreateSessionOperator`; ``defaults``,
    ``multiple``, ``params``, ``response_timeout``, ``assigned_users`` and ``notifiers`` go to
    ``HITLOperator`` unchanged.
    """

    template_fields: Sequence[str] = (
        *HITLOperator.template_fields,
        *SESSION_SETTING_ARGS,
        "browserbase_conn_id",
        "session_id",
        "start_url",
        "done_when_url_matches",
        "done_when_selector",
    )
    template_fields_renderers = SESSION_SETTING_RENDERERS
    operator_extra_links = (BrowserbaseLiveViewLink(), BrowserbaseSessionLink())
    ui_color = "#f4e3ff"

    def __init__(
        self,
        *,
        subject: str = "A browser needs you",
        body: str | None = None,
        options: list[str] | None = None,
        done_options: Sequence[str] = ("Done",),
        start_url: str | None = None,
        session_id: str | None = None,
        done_when_url_matches: str | None = None,
        done_when_selector: str | None = None,
        max_answers: int = 3,
        check_timeout: float = 5.0,
        keep_session: bool = False,
        browserbase_conn_id: str = BrowserbaseHook.default_conn_name,
        project_id: str | None = None,
        browser_settings: dict[str, Any] | None = None,
        proxies: bool | list[dict[str, Any]] | None = None,
        region: str | None = None,
        session_timeout: int | None = None,
        user_metadata: dict[str, Any] | None = None,
        extension_id: str | None = None,
        context_id: str | None = None,
        persist_context: bool | None = None,
        session_settings: dict[str, Any] | None = None,
        api_timeout: float = 60.0,
        end_sessions_on_failure: bool = True,
        **kwargs: Any,
    ) -> None:
        options = list(options) if options is not None else ["Done", "Cancel"]
        super().__init__(subject=subject, body=body, options=options, **kwargs)
        if not set(done_options) <= set(options):
            raise ValueError(f"done_options {list(done_options)} must be among options {options}")
        if max_answers < 1:
            raise ValueError(f"max_answers must be at least 1, got {max_answers}")
        self.done_options = list(done_options)
        self.start_url = start_url
        self.session_id = session_id
        self.done_when_url_matches = done_when_url_matches
        self.done_when_selector = done_when_selector
        self.max_answers = max_answers
        self.check_timeout = check_timeout
        self.keep_session = keep_session
        self.browserbase_conn_id = browserbase_conn_id
        self.project_id = project_id
        self.browser_settings = browser_settings
        self.proxies = proxies
        self.region = region
        self.keep_alive = True  # the task's process leaves while it waits; the browser must stay
        self.session_timeout = session_timeout
        self.user_metadata = user_metadata
        self.extension_id = extension_id
        self.context_id = context_id
        self.persist_context = persist_context
        self.session_settings = session_settings
        self.api_timeout = api_timeout
        if end_sessions_on_failure and not keep_session:
            attach_session_cleanup(self)
        self.end_sessions_on_failure = end_sessions_on_failure and not keep_session
        # The rendered body before the live view's link was added (what listeners see), once it was added.
        self._body_without_link: str | None = None
        self._link_added = False
        self._handoff_session: str | None = None
        self._check_inputs(templates_pending=True)

    @cached_property
    def hook(self) -> BrowserbaseHook:
        return BrowserbaseHook(self.browserbase_conn_id, api_timeout=self.api_timeout)

    @property
    def hitl_summary(self) -> dict[str, Any]:
        """Airflow's request summary for listeners, with the body as written (no live-view URL)."""
        summary = dict(super().hitl_summary)
        if self._link_added:
            summary["body"] = self._body_without_link
        return summary

    # ---------------------------------------------------------------------------------------------------
    # Before the person: a session on the start page, a link, the request
    # ---------------------------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        self._check_inputs()
        session_id = self._open_session(context)
        try:
            if self.start_url:
                self._goto(session_id, self.start_url)
            live_url = self.hook.get_live_urls(session_id).debugger_fullscreen_url
            if not live_url:
                raise BrowserbaseError(f"The API gave no live-view URL for Browserbase session {session_id}")
            BrowserbaseLiveViewLink.persist(context, live_url)
            self._body_without_link, self._link_added = self.body, True
            self.body = with_live_view_link(self.body, live_url)
            self.log.info("Browserbase session %s is ready; asking a person: %s", session_id, self.subject)
        except Exception:
            self._end(session_id, "the handoff could not start")
            raise
        return super().execute(context)  # waits for the person (awaiting_input or deferral)

    def _check_inputs(self, templates_pending: bool = False) -> None:
        """Fail naming the argument, before any request; before rendering, templated values wait."""

        def given(value: Any) -> bool:
            return value is not None and not (templates_pending and "{{" in str(value))

        errors: list[tuple[str, str]] = []
        if given(self.done_when_url_matches):
            try:
                re.compile(str(self.done_when_url_matches))
            except re.error as err:
                errors.append(("done_when_url_matches", f"is not a valid regular expression: {err}"))
        if given(self.done_when_selector) and not str(self.done_when_selector).strip():
            errors.append(("done_when_selector", "must not be empty"))
        if given(self.start_url) and not re.match(r"(?i)^https?://", str(self.start_url)):
            errors.append(("start_url", "must be an http:// or https:// URL"))
        if self.session_id is not None:
            errors += [
                (name, "cannot be used with session_id (an existing session keeps its settings)")
                for name in _CREATE_ONLY
                if getattr(self, name) is not None
            ]
        if errors:
            raise BrowserbaseValidationError(errors, "live handoff")

    def _open_session(self, context: Context) -> str:
        """Attach to ``session_id`` or create a keep-alive session; publish its id and links."""
        if self.session_id:
            session: Any = self.hook.get_session(str(self.session_id))
            if session.is_terminal:
                raise BrowserbaseError(
                    f"Cannot hand over Browserbase session {session.id}: it is {session.status}"
                )
        else:
            given = self.session_settings if isinstance(self.session_settings, dict) else {}
            if self.session_timeout is None and given.get("session_timeout") is None:
                self.session_timeout = handoff_session_timeout(self.response_timeout)
            settings = session_settings_for_task(context, self)
            if self.end_sessions_on_failure:
                end_earlier_tries(context, self.hook)
            session = self.hook.create_session(**settings)
        self._handoff_session = session.id
        publish_session(context, self.hook, session)
        return str(session.id)

    def _goto(self, session_id: str, url: str) -> None:
        from airflow_provider_browserbase.operators._playwright_session import PlaywrightSession

        with PlaywrightSession(self.hook).open(session_id=session_id) as connected:
            connected.page.goto(url)

    # ---------------------------------------------------------------------------------------------------
    # After the person: check, ask again, end or keep
    # ---------------------------------------------------------------------------------------------------

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        session_id = self._session_of_this_try(context)
        try:
            answer = super().execute_complete(context, event)
        except Exception:
            # A response timeout without defaults, or an answer Airflow could not take.
            self._end(session_id, "the handoff got no usable answer")
            raise
        chosen = list(answer["chosen_options"])
        if not set(chosen) & set(self.done_options):
            self._end(session_id, f"the person answered {chosen}")
            raise AirflowSkipException(
                f"The person answered {chosen} (not one of {self.done_options}): the handoff of Browserbase "
                f"session {session_id} was cancelled"
            )
        unmet = self._unmet_condition(session_id)
        if unmet is not None:
            ti = context["ti"]
            earlier = ti.xcom_pull(task_ids=self.task_id, key=ANSWERS_XCOM_KEY, map_indexes=ti.map_index)
            answers = int(earlier or 0) + 1
            if answers < self.max_answers:
                ti.xcom_push(key=ANSWERS_XCOM_KEY, value=answers)
                self.log.warning(
                    "The person answered %s but %s; asking again (answer %d of %d)",
                    chosen,
                    unmet,
                    answers,
                    self.max_answers,
                )
                return HITLOperator.execute(self, context)  # the same request, its answer cleared
            self._end(session_id, "the handoff's check failed")
            raise BrowserbaseLiveHandoffError(
                f"The person answered {chosen} {answers} time(s), but {unmet} (Browserbase session "
                f"{session_id})"
            )
        if not self.keep_session:
            # Ending the session saves its context (persist_context); wait until the API reports it ended.
            self.hook.end_session(session_id, wait=True, wait_timeout=120.0)
            self.log.info("Ended Browserbase session %s after the handoff", session_id)
        return {"session_id": session_id, "context_id": self._context_id(), "chosen_options": chosen}

    def _session_of_this_try(self, context: Context) -> str:
        ti = context["ti"]
        session_id = ti.xcom_pull(task_ids=self.task_id, key=SESSION_ID_XCOM_KEY, map_indexes=ti.map_index)
        if not session_id:
            raise BrowserbaseError(f"Task {self.task_id!r} has no Browserbase session_id in XCom to resume")
        self._handoff_session = str(session_id)
        return str(session_id)

    def _context_id(self) -> str | None:
        if self.context_id:
            return str(self.context_id)
        settings = self.session_settings if isinstance(self.session_settings, dict) else {}
        context = (self.browser_settings or settings.get("browser_settings") or {}).get("context") or {}
        return context.get("id")

    def _unmet_condition(self, session_id: str) -> str | None:
        """What the pages fail of ``done_when_*`` (``None``: all met), checked for ``check_timeout`` s."""
        if self.done_when_url_matches is None and self.done_when_selector is None:
            return None
        from airflow_provider_browserbase.operators._playwright_session import PlaywrightSession

        pattern = re.compile(self.done_when_url_matches) if self.done_when_url_matches else None
        deadline = time.monotonic() + self.check_timeout
        with PlaywrightSession(self.hook).open(session_id=session_id) as connected:
            while True:
                pages = connected.context.pages
                urls = [page.url for page in pages]
                missing = []
                if pattern is not None and not any(pattern.search(url) for url in urls):
                    missing.append(f"no page's URL matches {pattern.pattern!r}")
                if self.done_when_selector and not any(
                    page.locator(self.done_when_selector).count() for page in pages
                ):
                    missing.append(f"no page has {self.done_when_selector!r}")
                if not missing or time.monotonic() >= deadline:
                    break
                time.sleep(0.25)
        if not missing:
            return None
        return " and ".join(missing) + f" (pages: {', '.join(urls) or 'none'})"

    def _end(self, session_id: str | None, why: str) -> None:
        """End the session unless ``keep_session``: best effort, never masking the error being raised."""
        if session_id is None or self.keep_session:
            return
        try:
            self.hook.end_session(session_id)
            self.log.info("Ended Browserbase session %s: %s", session_id, why)
        except Exception:
            self.log.warning("Could not end Browserbase session %s", session_id, exc_info=True)

    def on_kill(self) -> None:
        self._end(self._handoff_session, "the task was killed")


def handoff_session_timeout(response_timeout: timedelta | None) -> int:
    """A handoff session's lifetime: ``response_timeout`` plus :data:`RESPONSE_MARGIN`, in 60–21600 s."""
    if response_timeout is None:
        return DEFAULT_HANDOFF_SESSION_TIMEOUT
    seconds = int(response_timeout.total_seconds()) + RESPONSE_MARGIN
    return min(max(seconds, MIN_SESSION_TIMEOUT), MAX_SESSION_TIMEOUT)


def with_live_view_link(body: str | None, live_url: str) -> str:
    """The request's Markdown body with the live-view link below the DAG's own text."""
    link = f"**[Open the browser (live view)]({live_url})** — do the step there, then answer here."
    return f"{body.rstrip()}\n\n{link}" if body else link
