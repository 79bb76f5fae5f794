"""
Fakes and values shared by the hook tests (import from here, never from ``conftest``): a connection as
JSON, a fake clock, a scripted API and a stateful one, session answers.

The scripted API is an ``httpx.MockTransport`` handler that records every request and answers from a
list of rules (first match wins); a rule's answer may be a response, an exception to raise, or a function.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_browserbase.models import metadata_matches, parse_metadata_query

if TYPE_CHECKING:
    from collections.abc import Collection


API_KEY = "bb_live_SECRET-zq81-do-not-leak"
BASE_URL = "http://bb.test"
PROJECT_ID = "proj-1"
CONN_ID = "browserbase_default"


def connection_json(host: str = BASE_URL, password: str | None = API_KEY, **extra: str) -> str:
    conn: dict[str, Any] = {"conn_type": "browserbase", "host": host}
    if password is not None:
        conn["password"] = password
    if extra:
        conn["extra"] = extra
    return json.dumps(conn)


class FakeClock:
    """A monotonic clock that only moves when someone sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def raw_path(request: httpx.Request) -> str:
    """The path as sent, percent-encoding kept."""
    return request.url.raw_path.split(b"?")[0].decode()


@dataclass
class Rule:
    method: str
    path: str
    answers: list[Any]
    repeat_last: bool = True

    def matches(self, request: httpx.Request) -> bool:
        return request.method == self.method and raw_path(request) == self.path


@dataclass
class ScriptedApi:
    """Answers requests from rules; records them all in ``requests``."""

    rules: list[Rule] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: Any) -> ScriptedApi:
        self.rules.append(Rule(method, path, list(answers)))
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        for rule in self.rules:
            if rule.matches(request):
                answer = rule.answers.pop(0) if len(rule.answers) > 1 else rule.answers[0]
                if isinstance(answer, Exception):
                    raise answer
                if callable(answer):
                    return answer(request)
                # A fresh copy: httpx rebinds a response's stream to the client that received it.
                return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)
        return httpx.Response(404, json={"statusCode": 404, "error": "Not Found", "message": "no route"})

    def calls(self, method: str | None = None, path: str | None = None) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or raw_path(r) == path)
        ]


def session_json(session_id: str = "s-1", status: str = "RUNNING", **extra: Any) -> dict[str, Any]:
    body = {
        "id": session_id,
        "status": status,
        "projectId": PROJECT_ID,
        "createdAt": "2026-11-28T09:00:00Z",
        "updatedAt": "2026-11-28T09:00:00Z",
        "startedAt": "2026-11-28T09:00:00Z",
        "expiresAt": "2026-11-28T09:05:00Z",
        "keepAlive": False,
        "proxyBytes": 0,
        "region": "us-west-2",
    }
    body.update(extra)
    return body


def created_json(session_id: str = "s-1", **extra: Any) -> dict[str, Any]:
    return session_json(
        session_id,
        connectUrl=f"ws://bb.test/?signingKey=sk-{session_id}-SIGNING",
        seleniumRemoteUrl="http://bb.test/webdriver",
        signingKey=f"sk-{session_id}-SIGNING",
        **extra,
    )


class StoringApi:
    """
    A stateful fake API (an ``httpx.MockTransport`` handler) whose creates really store sessions.

    It records every request; ``fates`` say, create by create, what happens to it (``"ok"`` when they run
    out); subclasses answer in :meth:`answer` with :meth:`store` and :meth:`matching` as building blocks.
    """

    def __init__(self, *fates: str) -> None:
        self.fates = list(fates)
        self.sessions: dict[str, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self._ids = (f"s-{n}" for n in itertools.count(1))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.answer(request, raw_path(request))

    def answer(self, request: httpx.Request, path: str) -> httpx.Response:
        raise NotImplementedError

    def next_fate(self) -> str:
        return self.fates.pop(0) if self.fates else "ok"

    def store(self, request: httpx.Request) -> str:
        """Store the session a create asks for, carrying its ``userMetadata``; return its id."""
        session_id = next(self._ids)
        metadata = json.loads(request.content).get("userMetadata")
        self.sessions[session_id] = created_json(session_id, userMetadata=metadata)
        return session_id

    def matching(self, request: httpx.Request, hidden: Collection[str] = ()) -> list[dict[str, Any]]:
        """The stored sessions a list's ``q`` metadata query matches, except the ``hidden`` ids."""
        terms = parse_metadata_query(request.url.params["q"])
        return [
            s
            for sid, s in self.sessions.items()
            if sid not in hidden and metadata_matches(s.get("userMetadata"), terms)
        ]

    def requests_to(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and raw_path(r) == path]
