"""Operators that create and end Browserbase sessions."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

from airflow.providers.common.compat.sdk import BaseOperator, mask_secret

from airflow_provider_browserbase.callbacks import attach_session_cleanup, end_earlier_tries
from airflow_provider_browserbase.exceptions import BrowserbaseError, BrowserbaseSessionError
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.links.session import BrowserbaseSessionLink
from airflow_provider_browserbase.operators._session_settings import (
    SESSION_SETTING_ARGS,
    SESSION_SETTING_RENDERERS,
    session_settings_for_task,
)
from airflow_provider_browserbase.operators._session_xcom import (
    CONNECT_URL_XCOM_KEY,
    SESSION_ID_XCOM_KEY,
    publish_session,
    session_summary,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context, XComArg
    from airflow.sdk.definitions.xcom_arg import PlainXComArg


class BrowserbaseCreateSessionOperator(BaseOperator):
    """
    Create a Browserbase session for downstream tasks to connect to.

    The return value (XCom) is the session: ``id``, ``status``, ``connect_url``, ``selenium_remote_url``,
    ``expires_at``, ``project_id`` and ``region`` (no ``signing_key`` field, but ``connect_url`` embeds the
    key). The keys ``session_id`` and ``connect_url`` are pushed separately, and ``browserbase_session_url``
    for the link. The connect URL is a credential: it lets anyone drive the browser until the session ends.
    Its signing key is masked in the logs, but XCom values are stored and shown in clear, so
    ``push_connect_url=False`` leaves it out of both the return value and the ``connect_url`` key
    (downstream tasks then read it by session id with ``BrowserbaseHook.get_session``).

    The session is tagged in ``userMetadata.airflow`` with the DAG id, task id, run id and try number.

    .. warning::
        A session nobody connects to within the service's connect deadline (about five minutes) ends on
        its own. If the task that uses it may wait in a queue, create the session right before it, create it
        with ``keep_alive=True`` and end it with :class:`BrowserbaseEndSessionOperator`
        (``trigger_rule="all_done"``), or let :class:`BrowserbasePlaywrightOperator` /
        ``@task.browserbase`` create the session and connect at once.

    Every setting is templated; ``session_settings`` takes a whole settings dict (a dict of templates, or
    one template such as ``"{{ params.session | tojson }}"``: JSON text is read as JSON) and the explicit
    arguments override its keys. Settings are validated before any request; an invalid value fails
    the task with a message naming the field.

    :param browserbase_conn_id: the Browserbase connection (templated).
    :param project_id: project to bill; defaults to the connection's ``project_id`` extra.
    :param browser_settings: ``browserSettings`` (viewport, block_ads, solve_captchas, os, context, ...).
    :param proxies: ``True`` for Browserbase proxies, or a list of proxy objects. Put proxy passwords in a
        connection and template them in, so they are masked in rendered fields.
    :param region: where the browser runs, e.g. ``"us-west-2"``.
    :param keep_alive: keep the session alive after clients disconnect (end it explicitly).
    :param session_timeout: session lifetime in seconds (60–21600). When not given, a session without
        ``keep_alive`` lives the task's ``execution_timeout`` plus a minute (when that is set); a
        ``keep_alive`` session is meant to outlive this task and keeps the project's default.
    :param user_metadata: JSON object stored with the session (≤ 512 characters with the Airflow tags).
    :param extension_id: an uploaded extension to load.
    :param context_id: a context (saved browser state) to load.
    :param persist_context: save the session's state back to ``context_id`` when it ends.
    :param session_settings: a whole settings dict, overridden by the explicit arguments.
    :param push_connect_url: push the connect URL to XCom (return value and key ``connect_url``).
    :param api_timeout: seconds to wait for each API answer.
    :param end_sessions_on_failure: add ``end_browserbase_sessions`` to the task's failure and retry
        callbacks (after the user's own), so a try that failed, even one whose process was killed, leaves
        no session running; a later try also ends what earlier tries left first.
    """

    template_fields: Sequence[str] = (*SESSION_SETTING_ARGS, "browserbase_conn_id")
    template_fields_renderers = SESSION_SETTING_RENDERERS
    operator_extra_links = (BrowserbaseSessionLink(),)
    ui_color = "#f4e3ff"

    def __init__(
        self,
        *,
        browserbase_conn_id: str = BrowserbaseHook.default_conn_name,
        project_id: str | None = None,
        browser_settings: dict[str, Any] | None = None,
        proxies: bool | list[dict[str, Any]] | None = None,
        region: str | None = None,
        keep_alive: bool | None = None,
        session_timeout: int | None = None,
        user_metadata: dict[str, Any] | None = None,
        extension_id: str | None = None,
        context_id: str | None = None,
        persist_context: bool | None = None,
        session_settings: dict[str, Any] | None = None,
        push_connect_url: bool = True,
        api_timeout: float = 60.0,
        end_sessions_on_failure: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.end_sessions_on_failure = end_sessions_on_failure
        if end_sessions_on_failure:
            attach_session_cleanup(self)
        self.browserbase_conn_id = browserbase_conn_id
        self.project_id = project_id
        self.browser_settings = browser_settings
        self.proxies = proxies
        self.region = region
        self.keep_alive = keep_alive
        self.session_timeout = session_timeout
        self.user_metadata = user_metadata
        self.extension_id = extension_id
        self.context_id = context_id
        self.persist_context = persist_context
        self.session_settings = session_settings
        self.push_connect_url = push_connect_url
        self.api_timeout = api_timeout
        self.session_id: str | None = None
        self._keep_alive_session = False

    @property
    def output(self) -> PlainXComArg:
        """
        The return value as an ``XComArg``, e.g. ``create.output["session_id"]`` for a downstream task.

        The same object as ``BaseOperator.output``, typed as what it is: Airflow types it as ``XComArg``,
        which mypy does not let a DAG index.
        """
        return cast("PlainXComArg", super().output)

    @cached_property
    def hook(self) -> BrowserbaseHook:
        return BrowserbaseHook(self.browserbase_conn_id, api_timeout=self.api_timeout)

    def execute(self, context: Context) -> dict[str, Any]:
        settings = session_settings_for_task(context, self, keep_alive_outlives_task=True)
        self._keep_alive_session = bool(settings.get("keep_alive"))
        if self.end_sessions_on_failure:
            end_earlier_tries(context, self.hook)
        session = self.hook.create_session(**settings)
        self.session_id = session.id
        publish_session(context, self.hook, session)
        if self.push_connect_url:
            context["ti"].xcom_push(key=CONNECT_URL_XCOM_KEY, value=session.connect_url)
        self._log_session_page(session)
        return session_summary(session, include_connect_url=self.push_connect_url)

    def _log_session_page(self, session: Any) -> None:
        # The hook has logged the create itself ("Created Browserbase session ..."); this line adds what
        # the hook does not say, so that one create reads as one line.
        self.log.info(
            "Browserbase session %s expires at %s; its page: %s",
            session.id,
            session.expires_at,
            self.hook.session_url(session.id),
        )

    def on_kill(self) -> None:
        if self.session_id is None or self._keep_alive_session:
            return
        try:
            self.hook.end_session(self.session_id)
            self.log.info("Ended Browserbase session %s because the task was killed", self.session_id)
        except Exception:
            self.log.warning("Could not end Browserbase session %s", self.session_id, exc_info=True)


class BrowserbaseEndSessionOperator(BaseOperator):
    """
    End (release) a Browserbase session.

    Idempotent: a session that already ended, or that the API does not know, counts as ended. Use it
    for clean-up with ``trigger_rule="all_done"`` so it runs even when the work failed::

        end = BrowserbaseEndSessionOperator(
            task_id="end_session",
            session_id="{{ ti.xcom_pull(task_ids='create_session', key='session_id') }}",
            trigger_rule="all_done",
        )

    :param session_id: the session to end (templated).
    :param browserbase_conn_id: the Browserbase connection (templated).
    :param wait_for_termination: wait until the session's status is terminal.
    :param wait_timeout: seconds to wait for the terminal status.
    :param poll_interval: seconds between two status reads while waiting.
    """

    template_fields: Sequence[str] = ("session_id", "browserbase_conn_id")
    ui_color = "#f4e3ff"

    def __init__(
        self,
        *,
        session_id: str | XComArg,
        browserbase_conn_id: str = BrowserbaseHook.default_conn_name,
        wait_for_termination: bool = False,
        wait_timeout: float = 60.0,
        poll_interval: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # An XComArg is resolved to its value when the task's templates are rendered, before execute.
        self.session_id = cast("str", session_id)
        self.browserbase_conn_id = browserbase_conn_id
        self.wait_for_termination = wait_for_termination
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval

    @cached_property
    def hook(self) -> BrowserbaseHook:
        return BrowserbaseHook(self.browserbase_conn_id)

    def execute(self, context: Context) -> str | None:
        session = self.hook.end_session(
            self.session_id,
            wait=self.wait_for_termination,
            wait_timeout=self.wait_timeout,
            poll_interval=self.poll_interval,
        )
        # The hook logs what happened, in order and naming the session: the release requested, the
        # session ended (with its status), or nothing to end for a session the API does not know.
        return None if session is None else session.status


def pull_connect_url(
    ti: Any,
    task_id: str = "create_session",
    *,
    browserbase_conn_id: str = BrowserbaseHook.default_conn_name,
) -> str:
    """
    The connect URL of the session that ``task_id`` created, masked in this task's logs.

    Use it in a downstream task instead of passing the URL as an argument (arguments show in the UI as
    rendered fields, and Airflow's log masker is per task process). When the create task ran with
    ``push_connect_url=False``, the URL is read again from the API by the ``session_id`` XCom.

    :param ti: the task instance of the calling task (``ti`` in the Airflow context).
    :param task_id: the task that created the session.
    :param browserbase_conn_id: the connection used to re-read the URL when it is not in XCom.
    :raises BrowserbaseSessionError: if the session has no connect URL any more (it ended).
    """
    connect_url = ti.xcom_pull(task_ids=task_id, key=CONNECT_URL_XCOM_KEY)
    if connect_url:
        connect_url = str(connect_url)
        # The URL whole, and its signing key on its own: a library may log the URL re-encoded or extended.
        mask_secret(connect_url)
        for key in parse_qs(urlsplit(connect_url).query).get("signingKey", []):
            mask_secret(key)
        return connect_url
    session_id = ti.xcom_pull(task_ids=task_id, key=SESSION_ID_XCOM_KEY)
    if not session_id:
        raise BrowserbaseError(f"Task {task_id!r} pushed no Browserbase session_id to XCom")
    session = BrowserbaseHook(browserbase_conn_id).get_session(str(session_id))  # masks what it reads
    if not session.connect_url:
        raise BrowserbaseSessionError(
            session.id,
            session.status,
            f"Browserbase session {session.id} has no connect URL (status {session.status})",
        )
    return session.connect_url
