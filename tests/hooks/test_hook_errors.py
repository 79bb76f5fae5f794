"""Error mapping, and the API key never showing in an error, a repr or a log line."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from airflow_provider_browserbase.exceptions import (
    BrowserbaseAPIError,
    BrowserbaseAuthenticationError,
    BrowserbaseConflictError,
    BrowserbaseError,
    BrowserbaseNotFoundError,
    BrowserbasePermissionDeniedError,
    BrowserbaseRateLimitError,
    BrowserbaseServerError,
)
from tests.hooks.hook_helpers import API_KEY, created_json

EMPTY_ZIP = b"PK\x05\x06" + b"\0" * 18

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
    from airflow_provider_browserbase.models import CreatedSession
    from tests.hooks.hook_helpers import ScriptedApi


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, BrowserbaseAuthenticationError),
        (403, BrowserbasePermissionDeniedError),
        (404, BrowserbaseNotFoundError),
        (409, BrowserbaseConflictError),
        (418, BrowserbaseAPIError),
        (429, BrowserbaseRateLimitError),
        (500, BrowserbaseServerError),
        (503, BrowserbaseServerError),
    ],
)
def test_status_maps_to_exception(
    status: int, error: type[BrowserbaseAPIError], api: ScriptedApi, make_hook: Callable[..., BrowserbaseHook]
) -> None:
    api.on(
        "GET",
        "/v1/sessions/s-1",
        httpx.Response(status, headers={"x-request-id": "req-9"}, json={"message": "m"}),
    )
    with pytest.raises(error) as info:
        make_hook(api, max_retries=0).get_session("s-1")
    assert type(info.value) is error
    assert info.value.status_code == status
    assert info.value.request_id == "req-9"
    assert info.value.session_id == "s-1"
    assert str(info.value).startswith(f"Browserbase get_session for session s-1 failed with HTTP {status}: m")


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (
            httpx.Response(
                400,
                json={"statusCode": 400, "error": "Bad Request", "message": "body/timeout must be <= 21600"},
            ),
            "body/timeout must be <= 21600",
        ),
        (httpx.Response(400, json={"error": "Bad Request"}), "Bad Request"),
        (httpx.Response(400, json={"code": 400, "error": {"message": "nested"}}), "nested"),
        (httpx.Response(400, text="plain words"), "plain words"),
        (httpx.Response(400, text="x" * 2000), "x" * 500 + "…"),
    ],
)
def test_api_message(response: httpx.Response, message: str, api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("GET", "/v1/projects", response)
    with pytest.raises(BrowserbaseAPIError) as info:
        hook.list_projects()
    assert info.value.api_message == message


def test_success_with_a_body_that_is_not_json(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("GET", "/v1/projects", httpx.Response(200, text="<html>proxy page</html>"))
    with pytest.raises(BrowserbaseError, match="not JSON"):
        hook.list_projects()


def test_missing_api_key_names_the_connection(monkeypatch: pytest.MonkeyPatch, api: ScriptedApi) -> None:
    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
    from tests.hooks.hook_helpers import connection_json

    monkeypatch.setenv("AIRFLOW_CONN_BB_NOKEY", connection_json(password=None))
    hook = BrowserbaseHook("bb_nokey", transport=httpx.MockTransport(api))
    with pytest.raises(BrowserbaseError, match="'bb_nokey' has no API key"):
        hook.get_session("s-1")
    assert api.requests == []


def test_test_connection_ok(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    api.on("GET", "/v1/projects", httpx.Response(200, json=[{"id": "p"}]))
    assert hook.test_connection() == (
        True,
        "Connected to the Browserbase API at http://bb.test (1 project(s) visible)",
    )
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (httpx.Response(401, json={"message": "Invalid API key"}), "HTTP 401: Invalid API key"),
        (httpx.Response(503), "HTTP 503"),
        (httpx.ConnectError("refused"), "could not connect"),
    ],
)
def test_test_connection_fails_without_raising_or_retrying(
    answer: Any, expected: str, api: ScriptedApi, hook: BrowserbaseHook
) -> None:
    api.on("GET", "/v1/projects", answer)
    ok, message = hook.test_connection()
    assert not ok
    assert expected in message
    assert API_KEY not in message
    assert len(api.requests) == 1


def test_test_connection_without_a_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

    ok, message = BrowserbaseHook("no_such_conn").test_connection()
    assert not ok
    assert "no_such_conn" in message


# Every error path the hook has, each answered so that it fails: (id, answer, method, args).
FAILURES: list[tuple[str, Any, str, tuple[Any, ...]]] = [
    ("401", httpx.Response(401, json={"message": "bad key"}), "get_session", ("s-1",)),
    ("404", httpx.Response(404), "get_context", ("c-1",)),
    ("429", httpx.Response(429, headers={"retry-after": "1"}), "list_sessions", ()),
    ("500", httpx.Response(500, text="oops"), "end_session", ("s-1",)),
    ("connect", httpx.ConnectError(f"refused http://bb.test/?key={API_KEY}"), "list_projects", ()),
    ("timeout", httpx.ReadTimeout("slow"), "get_project_usage", ()),
    ("protocol", httpx.RemoteProtocolError("dropped"), "get_live_urls", ("s-1",)),
    ("create-500", httpx.Response(500), "create_session", ()),
    ("create-429", httpx.Response(429, headers={"x-should-retry": "false"}), "create_session", ()),
    ("create-timeout", httpx.ReadTimeout("slow"), "create_session", ()),
    ("downloads", httpx.Response(200, content=EMPTY_ZIP), "wait_for_downloads", ("s-1", 1)),
    ("upload", httpx.Response(415, json={"message": "bad upload"}), "upload_file", ("s-1", b"x", "x.txt")),
]


# Async twins whose name is not "a" + the sync name (that would read as another word).
ASYNC_TWINS = {"wait_for_downloads": "await_downloads"}


@pytest.mark.parametrize(("name", "answer", "method", "args"), FAILURES, ids=[f[0] for f in FAILURES])
async def test_api_key_never_leaks(
    name: str,
    answer: Any,
    method: str,
    args: tuple[Any, ...],
    make_hook: Callable[..., BrowserbaseHook],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    hook = make_hook(handler, max_retries=1, rate_limit_wait=2)
    texts = [repr(hook), str(hook), repr(hook.conn_settings)]
    errors: list[BaseException] = []
    with pytest.raises(BrowserbaseError) as info:
        getattr(hook, method)(*args)
    errors.append(info.value)
    with pytest.raises(BrowserbaseError) as info:
        await getattr(hook, ASYNC_TWINS.get(method, f"a{method}"))(*args)
    errors.append(info.value)
    await hook.aclose()
    for error in errors:
        texts += [str(error), repr(error), repr(error.args), repr(vars(error))]
        for chained in (error.__cause__, error.__context__):
            if chained is not None:
                texts += [str(chained), repr(chained)]
    captured = capsys.readouterr()
    texts += [caplog.text, captured.out, captured.err]
    assert "Browserbase" in " ".join(texts)
    for text in texts:
        assert API_KEY not in text


def create_with_credentials(
    api: ScriptedApi, hook: BrowserbaseHook, connect_url: str, key: str
) -> CreatedSession:
    """Create a session through the hook, the API answering with this connect URL and signing key."""
    body = {**created_json("s-key"), "connectUrl": connect_url, "signingKey": key}
    api.on("POST", "/v1/sessions", httpx.Response(201, json=body))
    return hook.create_session()


def test_created_session_secrets_are_masked(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    from airflow.sdk._shared.secrets_masker.secrets_masker import _secrets_masker

    key = "a-long-enough-signing-key-0123456789"
    created = create_with_credentials(api, hook, f"ws://bb.test/?signingKey={key}", key)
    masker = _secrets_masker()
    # The key is the credential: masking it covers the URL that carries it, and the host stays readable.
    assert masker.redact(f"url {created.connect_url}") == "url ws://bb.test/?signingKey=***"
    assert masker.redact(created.signing_key) == "***"
    assert created.connect_url not in repr(created)
    assert created.signing_key not in repr(created)


def test_a_connect_url_without_the_key_verbatim_is_masked_whole(
    api: ScriptedApi, hook: BrowserbaseHook
) -> None:
    from airflow.sdk._shared.secrets_masker.secrets_masker import _secrets_masker

    key = "sk/with+chars=that-get-encoded"
    encoded = "sk%2Fwith%2Bchars%3Dthat-get-encoded"
    created = create_with_credentials(api, hook, f"wss://bb.test/?signingKey={encoded}", key)
    masker = _secrets_masker()
    assert masker.redact(f"url {created.connect_url}") == "url ***"
    assert masker.redact(f"key {key}") == "key ***"


def test_a_key_airflow_would_not_mask_leaves_the_whole_url_masked(
    api: ScriptedApi, hook: BrowserbaseHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_browserbase.models import _masker_min_length, session_secrets

    key = "a-long-enough-signing-key-0123456789"  # 36 characters
    session = create_with_credentials(api, hook, f"ws://bb.test/?signingKey={key}", key)
    assert session_secrets(session) == (key,)
    # An operator raised Airflow's minimum length above the key's: the key alone would not be masked.
    monkeypatch.setenv("AIRFLOW__LOGGING__MIN_LENGTH_MASKED_SECRET", "40")
    _masker_min_length.cache_clear()  # read once per process, as Airflow reads it for its maskers
    try:
        assert session_secrets(session) == (key, session.connect_url)
    finally:
        monkeypatch.undo()
        _masker_min_length.cache_clear()


def test_a_key_too_short_to_trust_masks_the_whole_url(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    from airflow.sdk._shared.secrets_masker.secrets_masker import _secrets_masker

    created = create_with_credentials(api, hook, "ws://bb.test/?signingKey=short-key", "short-key")
    assert _secrets_masker().redact(f"url {created.connect_url}") == "url ***"


def live_answer(fullscreen: str, debugger: str, ws: str) -> dict[str, Any]:
    page = {"id": "p1", "url": "about:blank", "title": "", "faviconUrl": "", "debuggerUrl": debugger}
    return {
        "debuggerFullscreenUrl": fullscreen,
        "debuggerUrl": debugger,
        "wsUrl": ws,
        "pages": [{**page, "debuggerFullscreenUrl": fullscreen + "&page=p1"}],
    }


def test_live_urls_carrying_a_token_mask_the_token_once(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    from airflow.sdk._shared.secrets_masker.secrets_masker import _secrets_masker

    # browserbase-local's shapes: the token in the query, and percent-encoded inside the frontend's ws=.
    token = "1764480000.0123456789abcdef0123456789abcdef01234567"
    fullscreen = f"http://bb.test/sessions/s-1/live?token={token}&fullscreen=1"
    debugger = f"devtools://devtools/bundled/inspector.html?ws=bb.test/sessions/s-1/devtools/page/p1%3Ftoken%3D{token}"
    ws = f"ws://bb.test/sessions/s-1/live/ws?token={token}"
    api.on("GET", "/v1/sessions/s-1/debug", httpx.Response(200, json=live_answer(fullscreen, debugger, ws)))
    masker = _secrets_masker()
    before = len(masker.patterns)
    live = hook.get_live_urls("s-1")
    # One secret for the five URLs (each new one recompiles the masker's regex over all), and each URL
    # prints with its host and path readable and its capability hidden.
    assert len(masker.patterns) - before == len(set(masker._adaptations(token)))
    assert (
        masker.redact(live.debugger_fullscreen_url)
        == "http://bb.test/sessions/s-1/live?token=***&fullscreen=1"
    )
    assert masker.redact(live.ws_url) == "ws://bb.test/sessions/s-1/live/ws?token=***"
    assert token not in masker.redact(live.debugger_url)
    assert token not in masker.redact(live.pages[0].debugger_fullscreen_url)


def test_live_urls_without_a_token_are_masked_whole(api: ScriptedApi, hook: BrowserbaseHook) -> None:
    from airflow.sdk._shared.secrets_masker.secrets_masker import _secrets_masker

    # Browserbase's own shapes: the URL itself is the capability; a token too short to trust is no help.
    fullscreen = (
        "https://www.browserbase.com/devtools-fullscreen/inspector.html?wss=connect.bb.test/debug/s-2/p1"
    )
    debugger = "https://www.browserbase.com/devtools/inspector.html?wss=connect.bb.test/debug/s-2/p1"
    ws = "wss://connect.bb.test/debug/s-2/devtools/page/p1?token=short"
    api.on("GET", "/v1/sessions/s-2/debug", httpx.Response(200, json=live_answer(fullscreen, debugger, ws)))
    live = hook.get_live_urls("s-2")
    masker = _secrets_masker()
    for url in (live.debugger_fullscreen_url, live.debugger_url, live.ws_url):
        assert masker.redact(f"url {url}") == "url ***"
