from __future__ import annotations

from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import XCom

from airflow_provider_browserbase.decorators.browserbase import _BrowserbaseDecoratedOperator
from airflow_provider_browserbase.links.session import SESSION_URL_XCOM_KEY, BrowserbaseSessionLink
from airflow_provider_browserbase.operators.playwright import BrowserbasePlaywrightOperator
from airflow_provider_browserbase.operators.session import BrowserbaseCreateSessionOperator


def test_persist_pushes_the_url_under_its_key() -> None:
    ti = mock.MagicMock()
    BrowserbaseSessionLink.persist({"ti": ti}, "https://www.browserbase.com/sessions/s1")
    ti.xcom_push.assert_called_once_with(
        key=SESSION_URL_XCOM_KEY, value="https://www.browserbase.com/sessions/s1"
    )


@pytest.mark.parametrize(
    ("stored", "link"), [("http://x/sessions/s1/live", "http://x/sessions/s1/live"), (None, "")]
)
def test_get_link_reads_the_persisted_url(stored: str | None, link: str) -> None:
    ti_key = mock.MagicMock()
    with mock.patch.object(XCom, "get_value", return_value=stored) as get_value:
        assert BrowserbaseSessionLink().get_link(mock.MagicMock(), ti_key=ti_key) == link
    get_value.assert_called_once_with(key=SESSION_URL_XCOM_KEY, ti_key=ti_key)


def test_name() -> None:
    assert BrowserbaseSessionLink().name == "Browserbase Session"


@pytest.mark.parametrize(
    "operator_class",
    [BrowserbaseCreateSessionOperator, BrowserbasePlaywrightOperator, _BrowserbaseDecoratedOperator],
)
def test_declared_at_class_level_on_every_operator_creating_a_session(operator_class: type) -> None:
    assert any(isinstance(link, BrowserbaseSessionLink) for link in operator_class.operator_extra_links)


def test_the_button_reads_the_url_stored_on_create() -> None:
    # Airflow 3's UI reads a button from the XCom its serialized link names (``xcom_key``). The worker
    # writes ``_link_<class>`` only at the task's end; the URL stored on create is there while it runs
    # (the system test reads an agent task's button while the agent browses).
    assert BrowserbaseSessionLink().xcom_key == SESSION_URL_XCOM_KEY


def test_the_live_view_button_reads_the_url_persisted_before_the_wait() -> None:
    from airflow_provider_browserbase.links.live_view import LIVE_VIEW_URL_XCOM_KEY, BrowserbaseLiveViewLink

    assert BrowserbaseLiveViewLink().xcom_key == LIVE_VIEW_URL_XCOM_KEY
