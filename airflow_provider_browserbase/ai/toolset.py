"""``BrowserbaseToolset``: browser tools for an agent of Airflow's AI provider, in a Browserbase session."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import shutil
from typing import TYPE_CHECKING, Any

from airflow.providers.common.ai.utils.tool_definition import build_args_validator, return_schema_kwargs
from airflow.providers.common.ai.utils.toolset_base import AirflowToolset, validate_max_retries
from airflow.providers.common.ai.utils.toolsets import iter_toolsets
from airflow.providers.common.compat.sdk import get_current_context, mask_secret
from pydantic_ai.exceptions import ModelRetry
from pydantic_ai.messages import BinaryContent
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets.abstract import AbstractToolset, ToolsetTool

from airflow_provider_browserbase.ai._page_text import (
    cap_text,
    clean_text,
    url_allowed,
    validate_url_prefixes,
)
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.links.session import BrowserbaseSessionLink
from airflow_provider_browserbase.operators._playwright_session import (
    artifacts_dir_option,
    private_artifacts_dir,
)
from airflow_provider_browserbase.operators._session_settings import (
    SESSION_SETTING_ARGS,
    airflow_tags,
    build_session_settings,
    tag_user_metadata,
)
from airflow_provider_browserbase.operators._session_xcom import mask_session_secrets

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Self

    from playwright.async_api import Browser, Page, Playwright
    from pydantic_ai._run_context import RunContext

    from airflow_provider_browserbase.models import Session

log = logging.getLogger(__name__)

# How long one tool waits for an element or a page. Short on purpose: a wrong selector should come back to
# the model as an error it can correct within seconds, not hang the run for Playwright's default 30 s.
ELEMENT_TIMEOUT_MS = 5_000
NAVIGATION_TIMEOUT_MS = 30_000
# read_text joins at most this many matching elements; links() lists at most this many links.
MAX_ELEMENTS = 200

_DESCRIPTIONS = {
    "goto": (
        "Open a URL in the browser and wait for the page to load. Returns the page's title and its final "
        "URL (after redirects). Only URLs under the allowed prefixes can be opened."
    ),
    "read_text": (
        "Read the visible text of the elements matching a selector on the current page (all of them, in "
        "order). Use 'body' for the whole page. Selectors are CSS ('table#products', '.price') or "
        "Playwright text selectors ('text=Sign in'). Long text is cut, with a note saying so: then read a "
        "narrower selector. Table cells are separated by ' | '."
    ),
    "click": (
        "Click the first element matching a selector (CSS or 'text=...') and wait for any navigation it "
        "starts. Returns the page's title and URL afterwards."
    ),
    "fill": (
        "Type into the first input matching a selector, replacing what it holds. Pass the text as 'value', "
        "or, for a password or another secret, its name as 'secret': the secret is typed for you and you "
        "never see it."
    ),
    "links": (
        "List the links of the current page as 'text -> absolute URL', one per line, marking those outside "
        "the allowed prefixes."
    ),
    "screenshot": "Take a PNG screenshot of the visible part of the current page, to look at it.",
}

_URL_RESULT_SCHEMA = {"type": "string"}


def _schemas(secret_names: Sequence[str]) -> dict[str, dict[str, Any]]:
    fill_properties: dict[str, Any] = {
        "selector": {"type": "string", "description": "CSS or Playwright selector of the input."},
        "value": {"type": "string", "description": "The text to type."},
    }
    if secret_names:
        fill_properties["secret"] = {
            "type": "string",
            "enum": list(secret_names),
            "description": "The name of a secret to type instead of a value.",
        }
    return {
        "goto": {
            "type": "object",
            "properties": {"url": {"type": "string", "description": "Absolute http(s) URL to open."}},
            "required": ["url"],
        },
        "read_text": {
            "type": "object",
            "properties": {
                "selector": {"type": "string", "description": "CSS or Playwright selector; 'body' for all."}
            },
            "required": ["selector"],
        },
        "click": {
            "type": "object",
            "properties": {"selector": {"type": "string", "description": "CSS or Playwright selector."}},
            "required": ["selector"],
        },
        "fill": {"type": "object", "properties": fill_properties, "required": ["selector"]},
        "links": {"type": "object", "properties": {}},
        "screenshot": {"type": "object", "properties": {}},
    }


# Every link of the page with its absolute URL (`a.href` is resolved by the browser), visible ones only.
_LINKS_JS = """
(limit) => Array.from(document.querySelectorAll('a[href]'))
    .filter(a => a.offsetParent !== null || a.getClientRects().length > 0)
    .slice(0, limit)
    .map(a => [(a.innerText || a.getAttribute('aria-label') || '').trim().replace(/\\s+/g, ' '), a.href])
"""


class BrowserbaseToolset(AirflowToolset):
    """
    Give an agent a browser: one Browserbase session per agent run, driven through Playwright.

    Tools: ``goto(url)``, ``read_text(selector)``, ``click(selector)``, ``fill(selector, value | secret)``,
    ``links()``, and ``screenshot()`` for vision models (``screenshots=True``). They act on one page, so
    they run one at a time (``sequential``), never in parallel.

    The session is created on the run's first tool call (a run that never browses costs no session) with
    the session settings given here, tagged with the task instance like the operators' sessions, and is
    ended when the run ends: on success, on failure, and when the task is killed (``@task.agent`` cancels
    the run, which unwinds through this toolset). Its id and page are logged, and the page is stored as
    the ``browserbase_session_url`` XCom that the "Browserbase Session" link reads: the provider's cluster
    policy gives every agent task with this toolset that button (:func:`add_session_link`).

    Safety: ``allowed_url_prefixes`` refuses navigation elsewhere (also a click or a redirect that lands
    elsewhere, which is sent back) with an error the model sees and can correct (``ModelRetry``);
    ``max_tool_calls`` caps the browser actions of a run and ``max_text_chars`` the text one tool
    returns. Tool results pass through Airflow's secret masker before the model sees them, and
    ``secrets`` are typed by name: their values never reach the model or the log. Browser actions change
    a site that Airflow cannot see, so durable execution never replays them (``replayable = False``).

    The connection id, the session settings, ``allowed_url_prefixes`` and ``secrets`` are templated when
    the toolset is given to ``@task.agent`` / ``AgentOperator`` (``"{{ conn.shop.password }}"``); each
    task instance renders its own copy.

    :param browserbase_conn_id: the Browserbase connection.
    :param allowed_url_prefixes: URLs the browser may open, as prefixes (``"https://shop.example.com/"``);
        ``None`` allows any URL. An empty list is refused.
    :param secrets: names to values the model may have typed with ``fill(secret=name)`` without seeing them.
    :param max_tool_calls: browser actions allowed in one run; later calls are refused.
    :param max_text_chars: longest text one tool returns; longer text is cut with a note.
    :param screenshots: offer the ``screenshot`` tool (only useful with a model that reads images).
    :param max_retries: how many times the model may correct a failed call; ``None`` follows the agent.
    :param toolset_id: the toolset's id (unique among the agent's toolsets).
    :param api_timeout: seconds to wait for each Browserbase API answer.
    :param project_id: see ``BrowserbaseCreateSessionOperator``; likewise ``browser_settings``,
        ``proxies``, ``region``, ``keep_alive``, ``session_timeout``, ``user_metadata``, ``extension_id``,
        ``context_id``, ``persist_context`` and ``session_settings``.
    """

    # Rendered on a copy by AgentOperator (common-ai's opt-in), not Airflow's in-place ``template_fields``.
    agent_template_fields: Sequence[str] = (
        "browserbase_conn_id",
        "allowed_url_prefixes",
        "secrets",
        *SESSION_SETTING_ARGS,
    )
    replayable = False

    def __init__(
        self,
        *,
        browserbase_conn_id: str = BrowserbaseHook.default_conn_name,
        allowed_url_prefixes: Sequence[str] | None = None,
        secrets: Mapping[str, str] | None = None,
        max_tool_calls: int = 50,
        max_text_chars: int = 8_000,
        screenshots: bool = False,
        max_retries: int | None = None,
        toolset_id: str | None = None,
        api_timeout: float = 60.0,
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
    ) -> None:
        for name, value in (("max_tool_calls", max_tool_calls), ("max_text_chars", max_text_chars)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: must be a positive integer, got {value!r}")
        if secrets is not None and not isinstance(secrets, dict):
            raise ValueError(f"secrets: must be a dict of name to value, got {type(secrets).__name__}")
        self.browserbase_conn_id = browserbase_conn_id
        # Checked now when given literally, and again at run time after templates render.
        self.allowed_url_prefixes = allowed_url_prefixes
        if not _templated(allowed_url_prefixes):
            validate_url_prefixes(allowed_url_prefixes)
        self.secrets = dict(secrets) if secrets is not None else None
        self.max_tool_calls = max_tool_calls
        self.max_text_chars = max_text_chars
        self.screenshots = screenshots
        self._max_retries = validate_max_retries(max_retries)
        self._id = toolset_id
        self.api_timeout = api_timeout
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
        self._reset_run_state()

    def _reset_run_state(self) -> None:
        self._hook: BrowserbaseHook | None = None
        self._session: Session | None = None
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._artifacts_dir: str | None = None
        self._page: Page | None = None
        self._prefixes: tuple[str, ...] | None = None
        self._settings: dict[str, Any] | None = None
        self._calls = 0
        self._open = False
        self._opening: asyncio.Lock | None = None

    @property
    def id(self) -> str:
        return self._id or f"browserbase-{self.browserbase_conn_id}"

    @property
    def session_id(self) -> str | None:
        """The id of this run's session, once a tool has opened it."""
        return self._session.id if self._session is not None else None

    def _new_hook(self) -> BrowserbaseHook:
        # One hook per run, built when the run starts browsing: the hook that created the session ends it
        # (it also ends a duplicate that an ambiguous create may have left).
        return BrowserbaseHook(self.browserbase_conn_id, api_timeout=self.api_timeout)

    # -----------------------------------------------------------------------------------------------------
    # Run lifecycle: a fresh copy per run; the session opens on the first tool call and ends at exit
    # -----------------------------------------------------------------------------------------------------

    async def for_run(self, ctx: RunContext[Any]) -> BrowserbaseToolset:
        # pydantic-ai shares one toolset object across runs (mapped tasks, dag.test()); each run gets its
        # own copy so that runs never share a session or end each other's.
        run_copy = copy.copy(self)
        run_copy._reset_run_state()
        return run_copy

    async def __aenter__(self) -> Self:
        # Everything the model cannot fix is checked before it spends anything: rendered settings, the
        # allow-list and the secrets.
        self._prefixes = validate_url_prefixes(self.allowed_url_prefixes)
        self._settings = self._session_settings()
        for name, value in (self.secrets or {}).items():
            if not isinstance(value, str) or not value:
                raise ValueError(f"secrets.{name}: must be a non-empty string (did its template render?)")
            mask_secret(value)
        self._opening = asyncio.Lock()
        self._open = True
        return self

    async def __aexit__(self, *args: Any) -> bool | None:
        self._open = False
        # Shielded: a run cancelled by on_kill unwinds through here, and the session must end anyway.
        await asyncio.shield(self._close())
        return None

    def _session_settings(self) -> dict[str, Any]:
        settings = build_session_settings(**{name: getattr(self, name) for name in SESSION_SETTING_ARGS})
        context = _task_context()
        if context is not None:
            settings["user_metadata"] = tag_user_metadata(
                settings.get("user_metadata"), airflow_tags(context)
            )
        return build_session_settings(**settings)

    async def _page_for_tools(self) -> Page:
        if not self._open or self._opening is None:
            raise RuntimeError(
                "BrowserbaseToolset is not open: give it to an agent (toolsets=[...]) or use it inside "
                "'async with toolset:' so that the session it opens is ended"
            )
        async with self._opening:
            if self._page is None:
                await self._start_session()
        assert self._page is not None
        return self._page

    async def _start_session(self) -> None:
        hook = self._hook = self._new_hook()
        creating = asyncio.ensure_future(self.run_blocking(hook.create_session, **(self._settings or {})))
        try:
            session = await asyncio.shield(creating)
        except asyncio.CancelledError:
            # Killed while creating: a thread cannot be cancelled, so wait for the create to finish and
            # keep the session, for __aexit__ to end it.
            with contextlib.suppress(Exception):
                self._session = await creating
            raise
        self._session = session
        mask_session_secrets(session)
        url = await self.run_blocking(hook.session_url, session.id)
        log.info("Browserbase session %s for the agent: %s", session.id, url)
        context = _task_context()
        if context is not None:
            try:
                BrowserbaseSessionLink.persist(context, url)
            except Exception:
                log.warning("Could not store the link of Browserbase session %s", session.id, exc_info=True)
        connect_url = getattr(session, "connect_url", None)
        if not connect_url:
            raise RuntimeError(f"The Browserbase API gave no connect URL for session {session.id}")
        from playwright.async_api import BrowserType, async_playwright

        self._artifacts_dir = private_artifacts_dir(BrowserType)
        self._playwright = await async_playwright().start()
        self._browser = await self._playwright.chromium.connect_over_cdp(
            connect_url, **artifacts_dir_option(self._artifacts_dir)
        )
        context_ = self._browser.contexts[0] if self._browser.contexts else await self._browser.new_context()
        page = context_.pages[0] if context_.pages else await context_.new_page()
        page.set_default_timeout(ELEMENT_TIMEOUT_MS)
        page.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        self._page = page

    async def _close(self) -> None:
        for what, action in (
            ("disconnect from the browser", self._browser.close if self._browser else None),
            ("stop Playwright", self._playwright.stop if self._playwright else None),
        ):
            if action is None:
                continue
            try:
                await action()
            except Exception:
                log.warning("Could not %s (session %s)", what, self.session_id, exc_info=True)
        if self._artifacts_dir is not None:
            # After Playwright stopped: see private_artifacts_dir.
            shutil.rmtree(self._artifacts_dir, ignore_errors=True)
            self._artifacts_dir = None
        session_id, hook = self.session_id, self._hook
        self._browser = self._playwright = self._page = None
        self._session = None
        if session_id is None or hook is None:
            return
        try:
            await self.run_blocking(hook.end_session, session_id)
            log.info("Ended Browserbase session %s", session_id)
        except Exception:
            log.warning("Could not end Browserbase session %s", session_id, exc_info=True)

    # -----------------------------------------------------------------------------------------------------
    # Tools
    # -----------------------------------------------------------------------------------------------------

    def _tool_names(self) -> list[str]:
        names = ["goto", "read_text", "click", "fill", "links"]
        return [*names, "screenshot"] if self.screenshots else names

    async def get_tools(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        schemas = _schemas(sorted(self.secrets or {}))
        max_retries = self._get_tool_max_retries(ctx)
        tools: dict[str, ToolsetTool[Any]] = {}
        for name in self._tool_names():
            description = _DESCRIPTIONS[name]
            if name == "goto" and self._prefixes:
                description += " Allowed: " + ", ".join(self._prefixes) + "."
            returns = {"type": "string"} if name != "screenshot" else {}
            tool_def = ToolDefinition(
                name=name,
                description=description,
                parameters_json_schema=schemas[name],
                # One page: a click and a read must not interleave.
                sequential=True,
                **(return_schema_kwargs(returns) if returns else {}),
            )
            tools[name] = ToolsetTool(
                toolset=self,
                tool_def=tool_def,
                max_retries=max_retries,
                args_validator=build_args_validator(schemas[name]),
            )
        return tools

    async def execute_tool(
        self,
        name: str,
        tool_args: dict[str, Any],
        *,
        ctx: RunContext[Any],
        tool: ToolsetTool[Any],
    ) -> Any:
        if name not in self._tool_names():
            raise ValueError(f"Unknown tool: {name!r}")
        self._calls += 1
        if self._calls > self.max_tool_calls:
            raise ModelRetry(
                f"The limit of {self.max_tool_calls} browser actions for this run is used up. "
                "Answer now with what you have found."
            )
        if name == "goto":
            self._check_allowed(tool_args["url"])
        page = await self._page_for_tools()
        try:
            return await getattr(self, f"_{name}")(page, **tool_args)
        except ModelRetry:
            raise
        except Exception as err:
            if self._browser is not None and not self._browser.is_connected():
                # Nothing the model does brings a lost session back: fail the run.
                raise RuntimeError(f"The browser of Browserbase session {self.session_id} is gone") from err
            raise ModelRetry(f"{name} failed: {_first_line(err)}") from err

    def _check_allowed(self, url: str) -> None:
        if not url_allowed(url, self._prefixes):
            raise ModelRetry(
                f"{url} is not allowed: this browser may only open URLs under "
                f"{', '.join(self._prefixes or ())}. Use one of those."
            )

    async def _landed(self, page: Page, before: str) -> str:
        """The page's title and URL; a page outside the allow-list is left at once (back to ``before``)."""
        if not url_allowed(page.url, self._prefixes):
            landed = page.url
            if before and url_allowed(before, self._prefixes):
                await page.goto(before)
            else:
                await page.goto("about:blank")
            raise ModelRetry(
                f"That led to {landed}, which is not allowed (only {', '.join(self._prefixes or ())}); "
                f"the browser went back to {page.url}."
            )
        return f"Title: {await page.title()}\nURL: {page.url}"

    async def _goto(self, page: Page, url: str) -> str:
        before = page.url
        response = await page.goto(url)
        result = await self._landed(page, before)
        if response is not None and response.status >= 400:
            result += f"\nHTTP status: {response.status}"
        return result

    async def _read_text(self, page: Page, selector: str) -> str:
        locator = page.locator(selector)
        await locator.first.wait_for(state="attached")
        texts = await locator.evaluate_all(
            f"(els) => els.slice(0, {MAX_ELEMENTS}).map(e => e.innerText ?? e.textContent ?? '')"
        )
        text = "\n\n".join(clean_text(t) for t in texts if t and t.strip())
        if not text:
            return f"(the elements matching {selector!r} have no visible text)"
        return cap_text(text, self.max_text_chars, hint="Read a narrower selector for the rest.")

    async def _click(self, page: Page, selector: str) -> str:
        before = page.url
        await page.locator(selector).first.click()
        try:
            await page.wait_for_load_state("load")
        except Exception:
            log.debug("No load after clicking %s", selector, exc_info=True)
        return await self._landed(page, before)

    async def _fill(
        self, page: Page, selector: str, value: str | None = None, secret: str | None = None
    ) -> str:
        if (value is None) == (secret is None):
            raise ModelRetry("fill needs exactly one of 'value' and 'secret'.")
        if secret is not None:
            known = self.secrets or {}
            if secret not in known:
                raise ModelRetry(f"There is no secret named {secret!r}; known: {', '.join(sorted(known))}.")
            text = known[secret]
        else:
            text = value or ""
        await page.locator(selector).first.fill(text)
        # Never echo what was typed: a secret stays out of the model's context and the log.
        return f"Filled {selector}" + (f" with the secret {secret!r}" if secret else "")

    async def _links(self, page: Page) -> str:
        links = await page.evaluate(_LINKS_JS, MAX_ELEMENTS)
        lines = []
        for text, href in links:
            mark = "" if url_allowed(href, self._prefixes) else "  (not allowed)"
            lines.append(f"{text or '(no text)'} -> {href}{mark}")
        if not lines:
            return "(no links on this page)"
        return cap_text("\n".join(lines), self.max_text_chars, hint="Read a narrower part of the page.")

    async def _screenshot(self, page: Page) -> BinaryContent:
        return BinaryContent(data=await page.screenshot(type="png"), media_type="image/png")


def add_session_link(task: Any) -> bool:
    """
    Give an agent task that uses a ``BrowserbaseToolset`` the "Browserbase Session" button.

    Called for every parsed task by the provider's cluster policy (``airflow_provider_browserbase.policies``):
    ``@task.agent`` and ``AgentOperator`` declare only their own extra links, so the button the provider's
    operators have is added here, to the tasks that browse. The toolset stores the session's page when the
    run opens it; the button reads it. Returns whether the task browses (and so has the button).

    :param task: a parsed task: an operator, or a mapped operator (``.partial().expand()``).
    """
    if not any(isinstance(toolset, BrowserbaseToolset) for toolset in _task_toolsets(task)):
        return False
    links = tuple(task.operator_extra_links)
    if not any(isinstance(link, BrowserbaseSessionLink) for link in links):
        task.operator_extra_links = (*links, AgentSessionLink())
    return True


class AgentSessionLink(BrowserbaseSessionLink):
    """The "Browserbase Session" button of an agent task: the page the toolset stores on opening a session."""


def _task_toolsets(task: Any) -> Iterator[Any]:
    """Every toolset an agent task was given, also inside wrappers (``.prefixed()``) and capabilities."""
    # A mapped task keeps its arguments in partial_kwargs until it is expanded.
    kwargs = getattr(task, "partial_kwargs", None)
    source = kwargs if isinstance(kwargs, dict) else vars(task)
    agent_params = source.get("agent_params") or {}
    declared = [*(source.get("toolsets") or ()), *(agent_params.get("toolsets") or ())]
    for capability in (*(source.get("capabilities") or ()), *(agent_params.get("capabilities") or ())):
        declared.append(getattr(capability, "toolset", None))
    for toolset in declared:
        if isinstance(toolset, AbstractToolset):
            yield from iter_toolsets(toolset)


def _templated(value: Any) -> bool:
    """Whether ``value`` still holds a Jinja template, which the operator renders at run time."""
    return "{{" in json.dumps(value, default=str)


def _task_context() -> Any:
    """The running task's context, or ``None`` outside a task (a test, a script)."""
    try:
        return get_current_context()
    except Exception:
        return None


def _first_line(error: BaseException) -> str:
    """Playwright's errors carry a call log after the first line; the model needs the first line."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
