"""Operator that runs a Python function with a Playwright page in a fresh Browserbase session."""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from airflow.providers.common.compat.sdk import KeywordParameters
from airflow.providers.standard.operators.python import PythonOperator

from airflow_provider_browserbase._lineage import operator_lineage
from airflow_provider_browserbase.callbacks import attach_session_cleanup, end_earlier_tries
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.links.session import BrowserbaseSessionLink
from airflow_provider_browserbase.operators._playwright_session import BrowserbasePage, PlaywrightSession
from airflow_provider_browserbase.operators._recording import check_recording_arguments, saving_recording
from airflow_provider_browserbase.operators._session_guard import SessionGuard, session_guard
from airflow_provider_browserbase.operators._session_settings import (
    SESSION_SETTING_ARGS,
    SESSION_SETTING_RENDERERS,
    session_settings_for_task,
)
from airflow_provider_browserbase.operators._session_xcom import publish_session

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator, Mapping, Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context, ObjectStoragePath, XComArg

#: Arguments the user's function receives when its signature names them (or takes ``**kwargs``), on top of
#: the Airflow context keys that ``PythonOperator`` passes.
INJECTED_ARGS: tuple[str, ...] = ("page", "browser", "session", "context")


def bind_past_injected(
    python_callable: Callable[..., Any], op_args: Collection[Any], op_kwargs: Mapping[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """
    Give ``op_args`` to the function's own parameters by name, passing over the injected ones.

    The one step Airflow's rules lack: ``PythonOperator`` passes ``op_args`` first parameter first and
    refuses one that lands on a name it supplies itself ("The key 'page' in args is a part of kwargs and
    therefore reserved"), while a browser function names its page first: ``def scrape(page, url)`` with
    ``op_args=["https://..."]`` gets the URL as ``url``. Python's own binder does the binding; signatures it
    cannot map (``*args``, positional-only parameters, too many arguments, a name given twice) keep the
    plain positional call, and Airflow's or Python's rules report any mismatch.
    """
    if not op_args:
        return [], dict(op_kwargs)
    signature = inspect.signature(python_callable)
    parameters = list(signature.parameters.values())
    if any(p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY) for p in parameters):
        return list(op_args), dict(op_kwargs)
    own = signature.replace(parameters=[p for p in parameters if p.name not in INJECTED_ARGS])
    try:
        named = own.bind_partial(*op_args).arguments
    except TypeError:
        return list(op_args), dict(op_kwargs)
    if named.keys() & op_kwargs.keys():
        return list(op_args), dict(op_kwargs)
    return [], {**named, **op_kwargs}


class BrowserbasePlaywrightOperator(PythonOperator):
    """
    Run ``python_callable`` with a Playwright page connected to a Browserbase session.

    A ``PythonOperator`` (the model is the Snowflake provider's ``SnowparkOperator``): the function is
    called the way ``PythonOperator`` calls it, with ``op_args``, ``op_kwargs``, ``templates_dict`` and the
    Airflow context keys its signature names (``ti``, ``params``, ... or all of them with ``**kwargs``), and
    the return value is the task's XCom return value, logged unless ``show_return_value_in_logs=False``.
    On top of that it gets, when its signature names them, ``page`` (the session's first page),
    ``browser`` (Playwright's CDP-connected browser), ``session`` (the Browserbase session) and
    ``context`` (the Airflow context); ``op_args`` are bound to the function's own parameters, passing
    over those four (``def scrape(page, url)`` with ``op_args=[url]``).

    By default the operator creates a fresh session from the session settings (the same arguments as
    :class:`~airflow_provider_browserbase.operators.session.BrowserbaseCreateSessionOperator`) and ends it
    on every way out: return, exception, or task kill. With ``session_id`` it attaches to an existing
    session instead (e.g. a keepAlive session shared by several tasks) and only disconnects, unless
    ``end_attached_session=True``. Playwright is imported only when the task runs. The return value is
    logged once the session is closed ("Done. Returned value was: ..."; Airflow's log masker hides any
    registered secret in it, such as a signing key).

    With the OpenLineage provider installed, the task reports the web pages its session's pages loaded
    (main frames only) as input datasets, on success and on failure.

    :param python_callable: the function to run; a plain ``def`` (the page is Playwright's sync API).
    :param op_args: positional arguments for the function (templated).
    :param op_kwargs: keyword arguments for the function (templated).
    :param templates_dict: a dictionary of templates, rendered and passed as ``templates_dict`` (templated).
    :param templates_exts: file extensions to render as template files, e.g. ``[".sql"]``.
    :param session_id: attach to this session instead of creating one (templated).
    :param end_attached_session: also end the attached ``session_id`` at the end of the task.
    :param browserbase_conn_id: the Browserbase connection (templated).
    :param project_id: see ``BrowserbaseCreateSessionOperator``; likewise ``browser_settings``,
        ``proxies``, ``region``, ``keep_alive``, ``session_timeout``, ``user_metadata``, ``extension_id``,
        ``context_id``, ``persist_context`` and ``session_settings`` (all templated). Without
        ``session_timeout`` the session lives the task's ``execution_timeout`` plus a minute (when set).
    :param api_timeout: seconds to wait for each API answer.
    :param show_return_value_in_logs: log the return value when the task is done (``PythonOperator``'s).
    :param end_sessions_on_failure: when this task creates its session, add ``end_browserbase_sessions``
        to its failure and retry callbacks (after the user's own), let a later try end what earlier
        tries left running, and watch a ``keep_alive`` session from a small guard process that ends it if
        the task process is killed, so a killed try's session does not run on.
    :param recording_destination: a folder or an ``ObjectStoragePath`` / URL (templated) where the
        session's video is saved, one ``<session id>-page-<page id>.mp4`` per page, as ``save_recording``
        says. The paths are logged and pushed to the XCom ``browserbase_recording``.
    :param save_recording: ``on_failure`` (the default with a destination): after the function failed and
        the session ended; ``always``; or ``never``. The task's own error is what it fails with: a
        recording that cannot be saved is logged, never raised.
    """

    template_fields: Sequence[str] = (
        *PythonOperator.template_fields,
        "session_id",
        *SESSION_SETTING_ARGS,
        "browserbase_conn_id",
        "recording_destination",
    )
    template_fields_renderers = {**PythonOperator.template_fields_renderers, **SESSION_SETTING_RENDERERS}
    operator_extra_links = (BrowserbaseSessionLink(),)
    ui_color = "#f4e3ff"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        templates_exts: Sequence[str] | None = None,
        session_id: str | XComArg | None = None,
        end_attached_session: bool = False,
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
        api_timeout: float = 60.0,
        show_return_value_in_logs: bool = True,
        end_sessions_on_failure: bool = True,
        recording_destination: str | ObjectStoragePath | None = None,
        save_recording: str | None = None,
        **kwargs: Any,
    ) -> None:
        if inspect.iscoroutinefunction(inspect.unwrap(python_callable)):
            # PythonOperator would run it on an event loop (Airflow 3.2+) and skip the session entirely.
            raise TypeError(
                "python_callable must be a plain function, not 'async def': the page it gets is "
                "Playwright's synchronous API"
            )
        super().__init__(
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            templates_dict=templates_dict,
            templates_exts=templates_exts,
            show_return_value_in_logs=show_return_value_in_logs,
            **kwargs,
        )
        self.save_recording = check_recording_arguments(recording_destination, save_recording)
        self.recording_destination = recording_destination
        # An attached session (session_id) belongs to the task that created it: nothing to clean up here.
        self.end_sessions_on_failure = end_sessions_on_failure and session_id is None
        if self.end_sessions_on_failure:
            attach_session_cleanup(self)
        # An XComArg is resolved to its value when the task's templates are rendered, before execute.
        self.session_id = cast("str | None", session_id)
        self.end_attached_session = end_attached_session
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
        self.api_timeout = api_timeout
        self._session: PlaywrightSession | None = None
        self._task_context: Context | None = None
        if session_id is not None:
            given = [name for name in SESSION_SETTING_ARGS if getattr(self, name) is not None]
            if given:
                raise ValueError(
                    f"Session settings ({', '.join(given)}) apply to new sessions only; "
                    "they cannot be combined with session_id"
                )

    @cached_property
    def hook(self) -> BrowserbaseHook:
        return BrowserbaseHook(self.browserbase_conn_id, api_timeout=self.api_timeout)

    @property
    def is_async(self) -> bool:
        # Always the synchronous path of PythonOperator.execute: that is where the session is opened.
        return False

    def execute(self, context: Context) -> Any:
        """
        Run ``PythonOperator.execute``: its context, ``templates_dict`` and return-value log.

        Its call of the function (:meth:`execute_callable`) runs in the browser session.
        """
        self.op_args, self.op_kwargs = bind_past_injected(self.python_callable, self.op_args, self.op_kwargs)
        self._task_context = context
        return super().execute(context)

    def execute_callable(self) -> Any:
        """Call the function in a connected session, with the injected arguments its signature names."""
        if self._task_context is None:
            raise RuntimeError("execute_callable runs inside execute, which gives it the task's context")
        # Airflow's rules choose the injected arguments, and refuse an op_arg that lands on one of them,
        # before any session is created.
        wanted = KeywordParameters.determine(
            self.python_callable, self.op_args, dict.fromkeys(INJECTED_ARGS)
        ).unpacking()
        with self.browser_session(self._task_context) as connected:
            injected = {
                "page": connected.page,
                "browser": connected.browser,
                "session": connected.session,
                "context": self._task_context,
            }
            self.op_kwargs = {**self.op_kwargs, **{name: injected[name] for name in wanted}}
            return super().execute_callable()

    @contextmanager
    def browser_session(self, context: Context) -> Iterator[BrowserbasePage]:
        """
        The task's session lifecycle, in one place: create (or attach) → connect → the call → end.

        Validates the settings before any request, ends the sessions earlier tries left running, publishes
        the session's id and link as soon as it exists, and on every way out (return, exception,
        :meth:`on_kill`) disconnects Playwright and ends the session (an attached one only when
        ``end_attached_session``). The ``with`` body is the call of the user's function.
        """
        settings = None if self.session_id else session_settings_for_task(context, self)
        if settings is not None and self.end_sessions_on_failure:
            end_earlier_tries(context, self.hook)
        # A keep_alive session outlives a killed task process (its disconnect does not end it): a guard
        # process ends it then. Other sessions end when the dead process's browser connection drops.
        guarded = self.end_sessions_on_failure and bool(settings and settings.get("keep_alive"))
        self._session = PlaywrightSession(self.hook)
        session = self._session
        with (
            saving_recording(
                context,
                self.hook,
                lambda: session.session_id,
                destination=self.recording_destination,
                save=self.save_recording,
                session_ended=lambda: session.end_on_exit,
                task_killed=lambda: session.killed,
            ),
            session_guard(self.hook, enabled=guarded) as guard,
            self._session.open(
                settings=settings,
                session_id=self.session_id,
                end_attached_session=self.end_attached_session,
                on_session=lambda session: self._announce(context, session, guard),
            ) as connected,
        ):
            yield connected

    def _announce(self, context: Context, session: Any, guard: SessionGuard) -> None:
        guard.watch(session.id)
        publish_session(context, self.hook, session)
        self.log.info("Running in Browserbase session %s: %s", session.id, self.hook.session_url(session.id))

    def on_kill(self) -> None:
        if self._session is not None:
            self._session.kill()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """
        The sites the task's pages read, as OpenLineage input datasets (``scheme://host:port``, path).

        Called by ``apache-airflow-providers-openlineage`` when the task succeeds; de-duplicated and capped
        at ``MAX_SITES`` (``airflow_provider_browserbase._lineage``).
        """
        return operator_lineage(inputs=self._session.sites.sites if self._session is not None else ())

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage:
        """The sites read before the task failed (as on success)."""
        return self.get_openlineage_facets_on_complete(task_instance)
