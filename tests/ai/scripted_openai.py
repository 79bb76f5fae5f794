"""
A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for DAG runs with a real ``pydanticai``
connection (``openai-chat:`` models through the real ``openai`` client) and no model behind it.

The model name picks the script (``scripted_models.POLICIES``): a ``pydanticai`` connection with host
``http://127.0.0.1:<port>/v1`` and model ``openai-chat:lamp`` gets the cheapest-lamp agent. Every request
is kept (``server.requests``) so tests can check what reached the model. By hand, to run the AI examples
offline::

    python tests/ai/scripted_openai.py --port 8788
    export AIRFLOW_CONN_PYDANTICAI_DEFAULT='{"conn_type": "pydanticai", "password": "sk-scripted",
        "host": "http://127.0.0.1:8788/v1", "extra": {"model": "openai-chat:lamp"}}'
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scripted_models import (
    STALL_RELEASE,
    Answer,
    Call,
    Conversation,
    cheapest_lamp_policy,
    extract_products_policy,
    login_policy,
    stall_policy,
)

POLICIES = {
    "lamp": cheapest_lamp_policy,
    "extract": extract_products_policy,
    "login": login_policy,
    "stall": stall_policy,
}
_ids = itertools.count(1)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _is_error(content: str) -> bool:
    try:
        value = json.loads(content)
    except ValueError:
        return "Fix the errors and try again" in content
    return isinstance(value, dict) and set(value) == {"error"}


def conversation_from_chat(body: dict[str, Any]) -> Conversation:
    """The policy's view of an OpenAI chat request."""
    conv = Conversation(prompt="")
    names: dict[str, str] = {}
    for message in body.get("messages", []):
        role = message.get("role")
        if role == "user":
            conv.prompt += _text(message.get("content"))
        elif role == "assistant":
            for call in message.get("tool_calls") or []:
                names[call["id"]] = call["function"]["name"]
        elif role == "tool":
            content = _text(message.get("content"))
            # pydantic-ai sends a tool's ModelRetry back as a result holding only {"error": ...}.
            if _is_error(content):
                conv.refusals.append(content)
            else:
                conv.results.append((names.get(message.get("tool_call_id", ""), "?"), content))
    tools = [t["function"]["name"] for t in body.get("tools") or [] if t.get("type") == "function"]
    conv.output_tool = next((t for t in tools if t.startswith("final_result")), None)
    conv.tools = [t for t in tools if t != conv.output_tool]
    return conv


def completion(body: dict[str, Any]) -> dict[str, Any]:
    model = str(body.get("model", ""))
    policy = POLICIES.get(model)
    if policy is None:
        raise LookupError(f"no script for model {model!r}; known: {', '.join(POLICIES)}")
    conv = conversation_from_chat(body)
    step = policy(conv)
    message: dict[str, Any] = {"role": "assistant", "content": None}
    if isinstance(step, Call):
        name, args = step.tool, step.args
    elif isinstance(step, Answer) and step.data is not None:
        assert conv.output_tool, "structured answer without an output tool"
        name, args = conv.output_tool, step.data
    else:
        name, args = None, None
        message["content"] = step.text if isinstance(step, Answer) else ""
    if name is not None:
        message["tool_calls"] = [
            {
                "id": f"call_{next(_ids)}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
        ]
    prompt_tokens = sum(len(json.dumps(m)) for m in body.get("messages", [])) // 4
    return {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": 1_800_000_000,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if name else "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": 10,
            "total_tokens": prompt_tokens + 10,
        },
    }


class ScriptedOpenAI:
    """
    The server, started on enter (``base_url`` ends in ``/v1``), stopped on exit.

    :param pause_at: hold the answer to this request (1 = the first) until :attr:`resume` is set, with
        :attr:`paused` set meanwhile: the agent is then mid-run, between two tool calls, for as long as a
        test needs to look at it.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, pause_at: int | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.pause_at = pause_at
        self.paused = threading.Event()
        self.resume = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self._answer(404, {"error": {"message": f"no route {self.path}"}})
                server.requests.append(body)
                if len(server.requests) == server.pause_at:
                    server.paused.set()
                    server.resume.wait(120)
                try:
                    return self._answer(200, completion(body))
                except Exception as err:
                    return self._answer(400, {"error": {"message": f"{type(err).__name__}: {err}"}})

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self.base_url = f"http://{host}:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *args: Any) -> None:
        STALL_RELEASE.set()  # a stalled answer must not hold the server's shutdown
        self.resume.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def prompts(self) -> list[str]:
        """Everything the model was sent, one string per request."""
        return [json.dumps(body.get("messages", []), ensure_ascii=False) for body in self.requests]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8788)
    port = parser.parse_args().port
    with ScriptedOpenAI(port=port) as server:
        print(f"scripted OpenAI-compatible server at {server.base_url} (models: {', '.join(POLICIES)})")
        threading.Event().wait()


if __name__ == "__main__":
    main()
