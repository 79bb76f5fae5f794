"""
One Browserbase session driven by Playwright for the length of a task.

The operator and ``@task.browserbase`` share this: create (or attach to) a session, connect Playwright
over CDP, and on every way out (return, exception, task kill) disconnect and end the session. Playwright
is imported only when a session is opened, never when a DAG is parsed.
"""

from __future__ import annotations

import inspect
import logging
import os
import shutil
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_browserbase._lineage import SiteRecorder
from airflow_provider_browserbase.exceptions import BrowserbaseSessionError
from airflow_provider_browserbase.models import is_terminal

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from playwright.sync_api import Browser, BrowserContext, Page

    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
    from airflow_provider_browserbase.models import Session, SessionDetails

log = logging.getLogger(__name__)

# After the browser connection drops, how long to wait for the API to report why (a terminal status).
STATUS_SETTLE_SECONDS = 5.0
# How Playwright words a call that failed because the CDP connection or the browser went away. It raises
# that error in the failing call before it marks the browser disconnected, so ``is_connected()`` alone can
# still say True at that moment.
_CONNECTION_CLOSED = (
    "The CDP connection is closed",
    "Target page, context or browser has been closed",
    "Browser has been closed",
    "Connection closed",
)


_NODE_ENV_LOCK = threading.Lock()


@contextmanager
def node_compile_cache() -> Iterator[None]:
    """
    Start Playwright's node driver with V8's compile cache on (``NODE_COMPILE_CACHE``, Node >= 22).

    Every task process starts a new driver, which compiles Playwright's JavaScript again: about 0.5 CPU s.
    With the cache in the user's cache folder, later drivers load the compiled code instead (measured on
    2 cores, 12 interleaved ``sync_playwright().start(); stop()`` each way: 0.44 -> 0.38 CPU s and
    0.37 -> 0.31 s per start). The
    variable is set only while the driver starts (under a lock: the environment is the process's), and
    not at all when the user set it (``NODE_COMPILE_CACHE=`` or ``NODE_DISABLE_COMPILE_CACHE=1`` turn it
    off) or the folder cannot be made: the cache is an optimisation, never a reason to fail. The folder
    holds about 1.3 MB per Node version of Playwright's driver.
    """
    with _NODE_ENV_LOCK:
        if "NODE_COMPILE_CACHE" in os.environ or os.environ.get("NODE_DISABLE_COMPILE_CACHE"):
            yield
            return
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "airflow-provider-browserbase", "node-compile-cache")
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError:
            yield
            return
        os.environ["NODE_COMPILE_CACHE"] = folder
        try:
            yield
        finally:
            os.environ.pop("NODE_COMPILE_CACHE", None)


# The folder each connection's Playwright artifacts (downloads, traces) go to; see private_artifacts_dir.
ARTIFACTS_DIR_PREFIX = "bb-playwright-"


def private_artifacts_dir(browser_type: Any) -> str | None:
    """
    A new temp folder for Playwright to keep one connection's artifacts in, or None where it cannot.

    Left to itself, Playwright's driver makes a ``playwright-artifacts-*`` folder for every
    ``connect_over_cdp`` and removes it when the browser disconnects, in the driver, after the fact. When the
    session ends under the task (``on_kill``, a timeout, the API) while the task closes its browser and stops
    Playwright, the driver can exit before that removal runs, and the folder stays on the worker for good:
    2 of 10 such connections measured with the session ended 20 ms before ``browser.close()`` (Playwright
    1.65). A folder of our own, passed as ``artifacts_dir`` and removed by the caller once the driver has
    stopped, goes whatever the order. Playwright releases without ``connect_over_cdp(artifacts_dir=...)``
    (``browser_type`` is its sync or async ``BrowserType``) keep their own folder: None is returned.
    """
    if "artifacts_dir" not in inspect.signature(browser_type.connect_over_cdp).parameters:
        return None
    return tempfile.mkdtemp(prefix=ARTIFACTS_DIR_PREFIX)


def artifacts_dir_option(folder: str | None) -> dict[str, Any]:
    """``connect_over_cdp``'s keyword argument for :func:`private_artifacts_dir`'s folder (none for None)."""
    return {"artifacts_dir": folder} if folder is not None else {}


@dataclass(frozen=True)
class BrowserbasePage:
    """
    A connected session: what user code gets.

    :param session: the session as created or retrieved (its connect URL is a secret).
    :param browser: the Playwright browser connected over CDP.
    :param context: the session's default browser context (stealth settings apply there).
    :param page: the context's first page.
    """

    session: Session
    browser: Browser
    context: BrowserContext
    page: Page


class PlaywrightSession:
    """
    Open, use and always release one session for a task.

    ``sites`` records the web pages the session's pages load in their main frame, for OpenLineage.

    :param hook: the hook to create, read and end the session with.
    """

    def __init__(self, hook: BrowserbaseHook) -> None:
        self.hook = hook
        self.sites = SiteRecorder()
        self.session_id: str | None = None
        self.end_on_exit = True
        self.killed = False

    @contextmanager
    def open(
        self,
        *,
        settings: Mapping[str, Any] | None = None,
        session_id: str | None = None,
        end_attached_session: bool = False,
        on_session: Callable[[Session], None] | None = None,
    ) -> Iterator[BrowserbasePage]:
        """
        Create a session from ``settings`` (or attach to ``session_id``) and connect Playwright to it.

        A created session is always ended on exit. An attached one is only disconnected (a keepAlive
        session stays up for the next task) unless ``end_attached_session`` is set.

        :param on_session: called with the session before connecting (to publish its id and link).
        """
        with ExitStack() as cleanup:
            if session_id is None:
                session: Session = self.hook.create_session(**(settings or {}))
                self.end_on_exit = True
            else:
                session = self._attachable(session_id)
                self.end_on_exit = end_attached_session
            self.session_id = session.id
            cleanup.callback(self._end_session)
            if on_session is not None:
                on_session(session)
            connect_url = getattr(session, "connect_url", None)
            if not connect_url:
                raise BrowserbaseSessionError(
                    session.id, session.status, f"The API gave no connect URL for session {session.id}"
                )

            from playwright.sync_api import BrowserType, sync_playwright

            # Removed after Playwright stopped (callbacks run last-in, first-out).
            artifacts_dir = private_artifacts_dir(BrowserType)
            if artifacts_dir is not None:
                cleanup.callback(shutil.rmtree, artifacts_dir, ignore_errors=True)
            with node_compile_cache():
                playwright = sync_playwright().start()
            cleanup.callback(self._best_effort, "stop Playwright", playwright.stop)
            browser = playwright.chromium.connect_over_cdp(connect_url, **artifacts_dir_option(artifacts_dir))
            cleanup.callback(self._best_effort, "disconnect from the browser", browser.close)
            context = browser.contexts[0] if browser.contexts else browser.new_context()
            self.sites.watch_context(context)
            page = context.pages[0] if context.pages else context.new_page()
            try:
                yield BrowserbasePage(session=session, browser=browser, context=context, page=page)
            except Exception as err:
                if not browser.is_connected() or _connection_closed(err):
                    raise self._lost_connection_error(session.id) from err
                raise

    def kill(self) -> None:
        """End the session from outside the task's flow (``on_kill``); the open block then unwinds."""
        self.killed = True
        self._end_session()

    def _attachable(self, session_id: str) -> SessionDetails:
        session = self.hook.get_session(session_id)
        if session.is_terminal:
            raise BrowserbaseSessionError(
                session_id, session.status, f"Cannot attach to session {session_id}: it is {session.status}"
            )
        return session

    def _end_session(self) -> None:
        if self.session_id is None or not self.end_on_exit:
            return
        try:
            self.hook.end_session(self.session_id)
        except Exception:
            log.warning("Could not end Browserbase session %s", self.session_id, exc_info=True)

    def _best_effort(self, what: str, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception:
            log.warning("Could not %s (session %s)", what, self.session_id, exc_info=True)

    def _lost_connection_error(self, session_id: str) -> BrowserbaseSessionError:
        if self.killed:
            return BrowserbaseSessionError(
                session_id, None, f"The task was killed; Browserbase session {session_id} was ended"
            )
        status = self._settled_status(session_id)
        if is_terminal(status):
            message = (
                f"Browserbase session {session_id} ended with status {status} while the task was using it"
            )
        else:
            message = (
                f"The browser connection to Browserbase session {session_id} was lost while the task was "
                f"using it (status {status or 'unknown'})"
            )
        return BrowserbaseSessionError(session_id, status, message)

    def _settled_status(self, session_id: str) -> str | None:
        deadline = time.monotonic() + STATUS_SETTLE_SECONDS
        status: str | None = None
        while True:
            try:
                session = self.hook.get_session(session_id)
            except Exception:
                log.warning("Could not read Browserbase session %s", session_id, exc_info=True)
                return status
            status = session.status
            if session.is_terminal or time.monotonic() >= deadline:
                return status
            time.sleep(0.5)


def _connection_closed(err: BaseException) -> bool:
    """Whether ``err`` is Playwright's error for a call cut off by the end of the browser connection."""
    from playwright.sync_api import Error as PlaywrightError

    return isinstance(err, PlaywrightError) and any(marker in str(err) for marker in _CONNECTION_CLOSED)
