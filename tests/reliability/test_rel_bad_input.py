"""
Bad input: generated invalid session settings fail with ``BrowserbaseValidationError`` naming the field,
before any HTTP request; schemathesis fuzzes ``browserbase-local`` against its own OpenAPI schema; the CDP
WebSocket proxy refuses missing, wrong and ended signing keys.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import FAULT_TALLY, Admin

from airflow_provider_browserbase.exceptions import BrowserbaseValidationError
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.operators.playwright import BrowserbasePlaywrightOperator

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_browserbase.local.server import LocalServer

SECRET = "pw_SECRET_c93b"
PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

not_a_whole_second_count = (
    st.integers().filter(lambda n: not 60 <= n <= 21600)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f) or not 60 <= f <= 21600)
    | st.booleans()
    | st.text(max_size=8).filter(lambda t: not t.strip().lstrip("-").replace(".", "", 1).isdigit())
    | st.lists(st.integers(), max_size=2)
)
json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
not_a_bool = st.sampled_from(["maybe", "2", 2, -1, 0.5, [], {}, [True]])


def oversized_metadata() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(
        st.text(min_size=1, max_size=8), st.text(min_size=60, max_size=80), min_size=8, max_size=10
    )


def metadata_with_array() -> st.SearchStrategy[dict[str, Any]]:
    inner = st.dictionaries(st.text(min_size=1, max_size=5), json_leaf, max_size=2)
    return st.builds(
        lambda base, key, array: {**base, key: {"deep": array}} if len(key) % 2 else {**base, key: array},
        inner,
        st.text(min_size=1, max_size=5),
        st.lists(json_leaf, max_size=3),
    )


#: (field the error must name, strategy for a bad value of it)
BAD_SETTINGS: list[tuple[str, st.SearchStrategy[dict[str, Any]]]] = [
    ("session_timeout", not_a_whole_second_count.map(lambda v: {"session_timeout": v})),
    # Any non-empty region is sent (with a warning): new regions open before a provider release knows them.
    (
        "region",
        (
            st.text(alphabet=" \t", max_size=3) | st.integers() | st.lists(st.just("us-west-2"), max_size=1)
        ).map(lambda v: {"region": v}),
    ),
    ("keep_alive", not_a_bool.map(lambda v: {"keep_alive": v})),
    (
        "user_metadata",
        (
            st.lists(json_leaf, max_size=3)
            | st.integers()
            | st.text(max_size=5)
            | oversized_metadata()
            | metadata_with_array()
        ).map(lambda v: {"user_metadata": v}),
    ),
    (
        "proxies",
        (
            st.dictionaries(st.text(max_size=5), json_leaf, max_size=2)
            | st.integers()
            | st.text(max_size=5).filter(lambda t: t.strip().lower() not in ("true", "false"))
            | st.lists(
                st.fixed_dictionaries(
                    {
                        "type": st.text(max_size=10).filter(
                            lambda t: t not in ("browserbase", "external", "none")
                        )
                    }
                ),
                min_size=1,
                max_size=2,
            )
        ).map(lambda v: {"proxies": v}),
    ),
    (
        "proxies",
        st.sampled_from([{"server": ""}, {}, {"server": 7}, {"server": "http://p:1", "password": 5}]).map(
            lambda extra: {"proxies": [{"type": "external", "username": "u", "password": SECRET, **extra}]}
        ),
    ),
    (
        "browser_settings.viewport",
        st.sampled_from(["width", "height"])
        .flatmap(
            lambda side: (st.integers(max_value=0) | st.integers(min_value=10001)).map(lambda n: {side: n})
        )
        .map(lambda v: {"browser_settings": {"viewport": v}}),
    ),
    (
        "browser_settings.os",
        st.text(max_size=8)
        .filter(lambda t: t not in ("windows", "mac", "linux", "mobile", "tablet"))
        .map(lambda v: {"browser_settings": {"os": v}}),
    ),
]


class CountingTransport(httpx.BaseTransport):
    """Counts requests; answers 500 so a request that should not exist cannot succeed by accident."""

    def __init__(self) -> None:
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return httpx.Response(500, json={"message": "no request was expected"})


@pytest.fixture(scope="module")
def counted_conn() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        conn = {"conn_type": "browserbase", "host": "http://127.0.0.1:9", "password": "bb_counted"}
        patch.setenv("AIRFLOW_CONN_BROWSERBASE_COUNTED", json.dumps(conn))
        yield "browserbase_counted"


def assert_names_field(err: BrowserbaseValidationError, field: str, settings_: dict[str, Any]) -> None:
    fields = [name for name, _ in err.errors]
    assert any(name.startswith(field) or field.startswith(name) for name in fields), (settings_, fields)
    assert SECRET not in str(err)


@PROPERTY
@given(case=st.sampled_from(BAD_SETTINGS).flatmap(lambda c: st.tuples(st.just(c[0]), c[1])))
def test_invalid_settings_fail_in_the_hook_before_any_request(
    counted_conn: str, case: tuple[str, Any]
) -> None:
    field, bad = case
    transport = CountingTransport()
    FAULT_TALLY["inputs"] += 1
    with (
        BrowserbaseHook(counted_conn, transport=transport) as hook,
        pytest.raises(BrowserbaseValidationError) as raised,
    ):
        hook.create_session(**bad)
    assert transport.requests == 0
    assert_names_field(raised.value, field, bad)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(BAD_SETTINGS).flatmap(lambda c: st.tuples(st.just(c[0]), c[1])))
def test_invalid_settings_fail_in_the_operator_before_any_request(
    counted_conn: str, case: tuple[str, Any]
) -> None:
    from unittest import mock

    field, bad = case
    transport = CountingTransport()
    FAULT_TALLY["inputs"] += 1
    try:
        task = BrowserbasePlaywrightOperator(
            task_id="t", python_callable=print, browserbase_conn_id=counted_conn, **bad
        )
    except TypeError:
        return  # not an operator argument at all: Python refuses it when the DAG is parsed
    task.__dict__["hook"] = BrowserbaseHook(counted_conn, transport=transport)
    ti = mock.MagicMock(dag_id="d", task_id="t", run_id="r", try_number=1, map_index=-1)
    with pytest.raises(BrowserbaseValidationError) as raised:
        task.execute({"ti": ti, "params": {}})  # type: ignore[arg-type]
    assert transport.requests == 0
    assert_names_field(raised.value, field, bad)


# The local server against its own OpenAPI schema


FETCH_GATEWAY_ANSWERS = frozenset({501, 502, 504})


def test_the_local_server_answers_its_own_schema_without_5xx(api_fault_server: LocalServer) -> None:
    """Every operation of ``/openapi.json``, with schemathesis-generated parameters and bodies."""
    key = {"X-BB-API-Key": api_fault_server.api_key}
    schema = schemathesis.openapi.from_url(f"{api_fault_server.base_url}/openapi.json", headers=key)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15, [op.label for op in operations]
    tried: list[str] = []

    for operation in operations:

        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def answers_below_500(case: Any) -> None:
            FAULT_TALLY["inputs"] += 1
            response = case.call(headers=key)
            tried.append(case.operation.label)
            detail = (case.method, case.formatted_path, response.status_code, response.text[:300])
            if case.path == "/v1/fetch" and response.status_code in FETCH_GATEWAY_ANSWERS:
                # The fetched URL's failure (unreachable, too slow, too big) or the JSON extraction that
                # needs Browserbase's model: answers about the page, each with its message, not crashes.
                assert response.json()["message"], detail
                return
            assert response.status_code < 500, detail
            if case.path == "/v1/sessions" and case.method.upper() == "POST" and response.status_code == 201:
                httpx.post(
                    f"{api_fault_server.base_url}/v1/sessions/{response.json()['id']}",
                    json={"status": "REQUEST_RELEASE"},
                    headers=key,
                )

        answers_below_500()
    assert len(set(tried)) == len(operations)


def test_the_local_server_still_serves_after_the_fuzzing(api_admin: Admin) -> None:
    assert api_admin.http.get("/health").json()["status"] == "ok"
    created = api_admin.http.post("/v1/sessions", json={}).json()
    api_admin.http.post(f"/v1/sessions/{created['id']}", json={"status": "REQUEST_RELEASE"})
    for session in api_admin.sessions(status="RUNNING"):
        api_admin.http.post(f"/v1/sessions/{session['id']}", json={"status": "REQUEST_RELEASE"})


# The CDP WebSocket proxy


def ws_status(url: str) -> int | None:
    """The HTTP status that refused the WebSocket handshake, or ``None`` when it was accepted."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    try:
        with connect(url, open_timeout=10):
            return None
    except InvalidStatus as err:
        return err.response.status_code


def test_the_cdp_proxy_refuses_missing_wrong_and_ended_signing_keys(
    api_fault_server: LocalServer, api_admin: Admin
) -> None:
    netloc = api_fault_server.config.netloc
    created = api_admin.http.post("/v1/sessions", json={"keepAlive": True}).json()
    assert ws_status(created["connectUrl"]) is None  # the control: the real key is accepted
    wrong = created["signingKey"][:-2] + ("AA" if not created["signingKey"].endswith("AA") else "BB")
    for url in (
        f"ws://{netloc}/",
        f"ws://{netloc}/?signingKey=",
        f"ws://{netloc}/?signingKey={wrong}",
        f"ws://{netloc}/?apiKey={api_fault_server.api_key}x&sessionId={created['id']}",
        f"ws://{netloc}/?sessionId={created['id']}",
    ):
        FAULT_TALLY["inputs"] += 1
        assert ws_status(url) == 401, url
    api_admin.http.post(f"/v1/sessions/{created['id']}", json={"status": "REQUEST_RELEASE"})
    api_admin.wait_status(created["id"], "COMPLETED")
    FAULT_TALLY["inputs"] += 2
    assert ws_status(created["connectUrl"]) == 401
    assert ws_status(f"ws://{netloc}/?apiKey={api_fault_server.api_key}&sessionId={created['id']}") == 401
