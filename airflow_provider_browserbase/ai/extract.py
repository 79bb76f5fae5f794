"""``extract()``: a page of a ``@task.browserbase`` task to a validated pydantic object, through an LLM."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from airflow.providers.common.ai.hooks.pydantic_ai import PydanticAIHook
from airflow.providers.common.ai.utils.coroutines import run_coroutine_sync
from airflow.providers.common.ai.utils.masking import mask_secrets

from airflow_provider_browserbase.ai._page_text import cap_text, clean_text

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pydantic_ai.usage import UsageLimits

log = logging.getLogger(__name__)

OutputT = TypeVar("OutputT")

Snapshot = Literal["text", "aria"]

INSTRUCTIONS = (
    "You extract structured data from a web page. The user gives an instruction and a snapshot of the "
    "page. Use only what the snapshot shows; never invent values. Leave out what the page does not have."
)

# Every link inside the root element with its absolute URL (the browser resolves `a.href`).
_LINKS_JS = """
(root, limit) => Array.from(root.querySelectorAll('a[href]')).slice(0, limit)
    .map(a => [(a.innerText || a.getAttribute('aria-label') || '').trim().replace(/\\s+/g, ' '), a.href])
"""
MAX_LINKS = 500


def page_snapshot(
    page: Page, *, snapshot: Snapshot = "text", selector: str = "body", links: bool = True
) -> str:
    """
    What the model is shown of ``page``: the element ``selector`` as tidied text or as an ARIA snapshot.

    ``"text"`` is the default because it makes the smaller prompt. Measured on the demo shop's listing
    (8 products, 5-digit port): the ARIA snapshot of ``body`` is 2,055 characters, its tidied
    ``innerText`` 396, and 1,183 with the link list that gives each product's absolute URL
    (``links=True``); a product page 329 against 89 (279 with links), the login form 343 against 64
    (254). The ARIA snapshot repeats each cell's text in its row, cell and link lines; it is worth its
    size where roles and states matter (forms, checkboxes, which element is a button), so it stays
    available as ``snapshot="aria"`` (it carries link URLs itself, so ``links`` does not apply).
    """
    root = page.locator(selector).first
    if snapshot == "aria":
        return root.aria_snapshot()
    if snapshot != "text":
        raise ValueError(f"snapshot: must be 'text' or 'aria', got {snapshot!r}")
    text = clean_text(root.inner_text())
    if not links:
        return text
    pairs = root.evaluate(_LINKS_JS, MAX_LINKS)
    if not pairs:
        return text
    listed = "\n".join(f"{label or '(no text)'} -> {href}" for label, href in pairs)
    return f"{text}\n\nLinks:\n{listed}"


def extract(
    page: Page,
    output_type: type[OutputT],
    instruction: str,
    *,
    llm_conn_id: str,
    model_id: str | None = None,
    snapshot: Snapshot = "text",
    selector: str = "body",
    links: bool = True,
    max_chars: int = 50_000,
    system_prompt: str = "",
    usage_limits: UsageLimits | None = None,
    agent_params: dict[str, Any] | None = None,
) -> OutputT:
    """
    Ask a model for ``output_type`` from what ``page`` shows now, and return it validated.

    For use inside ``@task.browserbase`` (synchronous Playwright): the page is read here, the model is
    asked through Airflow's AI provider (``PydanticAIHook(llm_conn_id).create_agent(output_type=...)``:
    the model and key come from the ``pydanticai`` connection, fallbacks and tracing included), and the
    answer is validated against ``output_type`` (pydantic-ai asks the model again when it does not fit).
    The agent runs on common-ai's coroutine runner, in a thread of its own, because Playwright's sync API
    already runs an event loop in the task's thread. Registered secrets (connection passwords) are masked
    out of the snapshot before it leaves the worker::

        @task.browserbase
        def products(page):
            page.goto("https://shop.example.com/products")
            return extract(page, list[Product], "Every product of the listing", llm_conn_id="llm")

    :param page: the Playwright page (the ``page`` argument of ``@task.browserbase``).
    :param output_type: a pydantic model, ``list[Model]``, or any type pydantic-ai accepts as output.
    :param instruction: what to extract, in plain words.
    :param llm_conn_id: the ``pydanticai`` connection of the model.
    :param model_id: overrides the connection's model (``"openai:gpt-5"``).
    :param snapshot: ``"text"`` (default, smaller prompts) or ``"aria"``; see :func:`page_snapshot`.
    :param selector: the part of the page to show (default the whole ``body``).
    :param links: with ``"text"``, append the links of that part with their absolute URLs.
    :param max_chars: longest snapshot sent; longer ones are cut, with a note the model sees.
    :param system_prompt: instructions added to the extractor's own.
    :param usage_limits: pydantic-ai ``UsageLimits`` for the request (tokens, requests).
    :param agent_params: more keyword arguments for pydantic-ai's ``Agent`` (``retries``, ``model_settings``).
    :return: an instance of ``output_type``.
    """
    if not isinstance(instruction, str) or not instruction.strip():
        raise ValueError("instruction: must say what to extract, got an empty value")
    if not isinstance(max_chars, int) or max_chars < 1:
        raise ValueError(f"max_chars: must be a positive integer, got {max_chars!r}")
    content = cap_text(page_snapshot(page, snapshot=snapshot, selector=selector, links=links), max_chars)
    prompt = mask_secrets(
        f"{instruction.strip()}\n\nPage: {page.title()}\nURL: {page.url}\n\n"
        f"Snapshot ({'ARIA' if snapshot == 'aria' else 'visible text'} of {selector}):\n{content}"
    )
    hook = PydanticAIHook.get_hook(llm_conn_id, hook_params={"model_id": model_id})
    instructions = f"{INSTRUCTIONS}\n\n{system_prompt}".strip()
    agent = hook.create_agent(output_type=output_type, instructions=instructions, **(agent_params or {}))
    log.info("Extracting from %s: %d characters of %s snapshot", page.url, len(content), snapshot)
    result = run_coroutine_sync(agent.run(prompt, usage_limits=usage_limits))
    # A property in current pydantic-ai, a method in older 2.x releases.
    usage = result.usage if hasattr(result.usage, "requests") else result.usage()
    log.info(
        "Extracted %s: %s requests, %s input and %s output tokens",
        getattr(output_type, "__name__", output_type),
        usage.requests,
        usage.input_tokens,
        usage.output_tokens,
    )
    return result.output
