"""``pull_connect_url``: how a downstream task gets the session's connect URL, masked in its own logs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

from airflow_provider_browserbase.exceptions import BrowserbaseError, BrowserbaseSessionError
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook
from airflow_provider_browserbase.models import SessionDetails
from airflow_provider_browserbase.operators import session as session_module
from airflow_provider_browserbase.operators.session import pull_connect_url
from tests.support import connection_uri_env

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_browserbase.local.server import LocalServer


class FakeTaskInstance:
    """Just the XCom reads of a task instance: ``{(task_id, key): value}``."""

    def __init__(self, xcoms: dict[tuple[str, str], Any]) -> None:
        self.xcoms = xcoms

    def xcom_pull(self, task_ids: str, key: str) -> Any:
        return self.xcoms.get((task_ids, key))


@pytest.fixture
def api_hook(api_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[BrowserbaseHook]:
    monkeypatch.setenv("AIRFLOW_CONN_BB_PULL", connection_uri_env(api_server.base_url, api_server.api_key))
    with BrowserbaseHook("bb_pull") as hook:
        yield hook


def test_url_from_xcom_is_masked_in_the_reading_task() -> None:
    ti = FakeTaskInstance({("create_session", "connect_url"): "ws://h/?signingKey=secret-key"})
    with mock.patch.object(session_module, "mask_secret") as mask:
        assert pull_connect_url(ti) == "ws://h/?signingKey=secret-key"
    # The URL, and its key alone (which stays masked if the URL is logged re-encoded or extended).
    assert [c.args[0] for c in mask.call_args_list] == ["ws://h/?signingKey=secret-key", "secret-key"]


def test_without_the_xcom_the_url_is_read_again_by_session_id(api_hook: BrowserbaseHook) -> None:
    created = api_hook.create_session(session_timeout=120)
    try:
        ti = FakeTaskInstance({("make", "session_id"): created.id})
        with mock.patch("airflow_provider_browserbase.hooks.browserbase.mask_secret") as mask:
            url = pull_connect_url(ti, "make", browserbase_conn_id="bb_pull")
        assert url == created.connect_url
        masked = {call.args[0] for call in mask.call_args_list}
        # The signing key is what the URL carries: masking it is what keeps the URL harmless in logs.
        assert created.signing_key in masked
        assert created.signing_key in url
    finally:
        api_hook.end_session(created.id)


def test_a_session_without_a_url_is_a_clear_error() -> None:
    ended = SessionDetails(id="sess-1", status="COMPLETED")
    ti = FakeTaskInstance({("create_session", "session_id"): "sess-1"})
    expected = "sess-1 has no connect URL \\(status COMPLETED\\)"
    with (
        mock.patch.object(BrowserbaseHook, "get_session", return_value=ended),
        pytest.raises(BrowserbaseSessionError, match=expected),
    ):
        pull_connect_url(ti)


def test_no_session_id_in_xcom_is_a_clear_error() -> None:
    with pytest.raises(BrowserbaseError, match="'create_session' pushed no Browserbase session_id"):
        pull_connect_url(FakeTaskInstance({}))
