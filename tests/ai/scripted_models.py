"""
Scripted models: the one thing these tests do not run for real.

A policy reads the conversation (the user's prompt, the tools' results, the refusals) and decides the next
step, the way a model would, but deterministically. Everything it answers with comes from what the
conversation holds, so a right answer proves the page's content reached the model through the browser.
The same policies drive pydantic-ai's ``FunctionModel`` in-process and the OpenAI-compatible server of
``scripted_openai.py`` over HTTP.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic_ai.messages import ModelMessage
    from pydantic_ai.models.function import AgentInfo

FOREIGN_URL = "https://www.example.com/"
ROW = re.compile(r"^(?P<name>.+?) \| (?P<sku>[A-Z]{2}-\d+) \| \$(?P<price>[\d,.]+)$", re.MULTILINE)
LINK = re.compile(r"^(?P<text>.+?) -> (?P<url>\S+)$", re.MULTILINE)
PAGE_OF = re.compile(r"Page (\d+) of (\d+)")
URL_IN_PROMPT = re.compile(r"https?://\S+?(?=[\s)]|$)")


@dataclass
class Conversation:
    """What a policy sees: the prompt, each tool result in order, and each refusal (retry prompt)."""

    prompt: str
    results: list[tuple[str, str]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    output_tool: str | None = None


@dataclass
class Call:
    tool: str
    args: dict[str, Any]


@dataclass
class Answer:
    """A final answer: ``text``, or ``data`` for the output tool (structured output)."""

    text: str | None = None
    data: dict[str, Any] | None = None


# ---------------------------------------------------------------------------------------------------------
# Policies
# ---------------------------------------------------------------------------------------------------------


def cheapest_lamp_policy(conv: Conversation, *, try_foreign_first: bool = True) -> Call | Answer:
    """
    Find the cheapest desk lamp: try a foreign URL first (to be refused), then walk the listing's pages
    with ``goto`` + ``read_text``, and answer with the SKU of the cheapest row whose name has "lamp".
    """
    start = URL_IN_PROMPT.search(conv.prompt)
    assert start, f"no URL in the prompt: {conv.prompt!r}"
    listing = start.group(0).rstrip(".,")
    if try_foreign_first and not conv.refusals and not conv.results:
        return Call("goto", {"url": FOREIGN_URL})
    reads = [text for tool, text in conv.results if tool == "read_text"]
    if not conv.results:
        return Call("goto", {"url": listing})
    last_tool = conv.results[-1][0]
    if last_tool == "goto":
        return Call("read_text", {"selector": "body"})
    page = PAGE_OF.search(reads[-1]) if reads else None
    if page and int(page.group(1)) < int(page.group(2)):
        base = listing.split("?")[0]
        return Call("goto", {"url": f"{base}?page={int(page.group(1)) + 1}"})
    lamps = [m for text in reads for m in ROW.finditer(text) if "lamp" in m["name"].lower()]
    if not lamps:
        return Answer(text="NOT FOUND")
    cheapest = min(lamps, key=lambda m: float(m["price"].replace(",", "")))
    return Answer(text=cheapest["sku"])


def login_policy(conv: Conversation) -> Call | Answer:
    """Sign in to the demo shop with the ``password`` secret, then report who the page says is signed in."""
    start = URL_IN_PROMPT.search(conv.prompt)
    assert start
    steps = [
        Call("goto", {"url": start.group(0).rstrip(".,")}),
        Call("fill", {"selector": "input[name=username]", "value": "demo"}),
        Call("fill", {"selector": "input[name=password]", "secret": "password"}),
        Call("click", {"selector": "button[type=submit]"}),
        Call("read_text", {"selector": "#signed-in-as"}),
    ]
    if len(conv.results) < len(steps):
        return steps[len(conv.results)]
    return Answer(text=conv.results[-1][1])


STALL_RELEASE = threading.Event()


def stall_policy(conv: Conversation) -> Call | Answer:
    """Open the URL of the prompt, then think for up to two minutes (until the test is done)."""
    if not conv.results:
        start = URL_IN_PROMPT.search(conv.prompt)
        assert start
        return Call("goto", {"url": start.group(0).rstrip(".,")})
    STALL_RELEASE.wait(120)
    return Answer(text="too late")


def extract_products_policy(conv: Conversation) -> Call | Answer:
    """Read the product rows and the "Next" link out of the page snapshot in the prompt."""
    rows = []
    links = {m["text"]: m["url"] for m in LINK.finditer(conv.prompt)}
    for m in ROW.finditer(conv.prompt):
        rows.append(
            {
                "sku": m["sku"],
                "name": m["name"],
                "price": float(m["price"].replace(",", "")),
                "url": links.get(m["name"]),
            }
        )
    return Answer(data={"products": rows, "next_page_url": links.get("Next")})


# ---------------------------------------------------------------------------------------------------------
# pydantic-ai's FunctionModel
# ---------------------------------------------------------------------------------------------------------


def conversation_from_messages(messages: list[ModelMessage], info: AgentInfo | None = None) -> Conversation:
    from pydantic_ai.messages import ModelRequest, RetryPromptPart, ToolReturnPart, UserPromptPart

    conv = Conversation(prompt="")
    for message in messages:
        if not isinstance(message, ModelRequest):
            continue
        for part in message.parts:
            if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                conv.prompt += part.content
            elif isinstance(part, ToolReturnPart) and getattr(part, "outcome", None) == "retried":
                # How pydantic-ai 2.x hands the model a tool's ModelRetry: a result marked "retried".
                conv.refusals.append(part.model_response_str())
            elif isinstance(part, ToolReturnPart):
                conv.results.append((part.tool_name, part.model_response_str()))
            elif isinstance(part, RetryPromptPart):
                conv.refusals.append(part.model_response())
    if info is not None:
        conv.tools = [t.name for t in info.function_tools]
        conv.output_tool = info.output_tools[0].name if info.output_tools else None
    return conv


def function_model(
    policy: Callable[[Conversation], Call | Answer], seen: list[Conversation] | None = None
) -> Any:
    """A ``FunctionModel`` that answers as ``policy`` says; each conversation it saw goes into ``seen``."""
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import FunctionModel

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        conv = conversation_from_messages(messages, info)
        if seen is not None:
            seen.append(conv)
        step = policy(conv)
        if isinstance(step, Call):
            return ModelResponse(parts=[ToolCallPart(step.tool, step.args)])
        if step.data is not None:
            assert conv.output_tool, "structured answer without an output tool"
            return ModelResponse(parts=[ToolCallPart(conv.output_tool, step.data)])
        return ModelResponse(parts=[TextPart(step.text or "")])

    return FunctionModel(respond)
