"""
Log in to a website once, then reuse the login in later Browserbase sessions through a context.

A Browserbase context keeps a browser's cookies and storage between sessions. The DAG creates one,
signs in by filling the site's login form in a session started with ``persist_context=True``, and waits
with ``BrowserbaseSessionSensor`` until that session is COMPLETED: the context is saved only when the
session ends. A second session started from the same context then opens a page that only a signed-in
user sees, without logging in again. The context is deleted at the end whatever happened (a teardown
task, so a failure before it still fails the run).

The site's credentials come from an Airflow connection, never from ``params`` (those are shown in the
UI and stored with the run). By default it signs in to the demo shop of the ``browserbase-local`` that
the ``browserbase_default`` connection points at (``base_url`` names another site), whose login is::

    export AIRFLOW_CONN_BROWSERBASE_DEMO_SITE='{"conn_type": "generic", "login": "demo",
                                                "password": "browserbase-local"}'
    airflow dags test example_browserbase_login_context
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook, Param, dag, task

from airflow_provider_browserbase.demo_shop import demo_shop_url
from airflow_provider_browserbase.operators.context import (
    BrowserbaseCreateContextOperator,
    BrowserbaseDeleteContextOperator,
)
from airflow_provider_browserbase.sensors.session import BrowserbaseSessionSensor

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from airflow_provider_browserbase.models import Session


@dag(
    schedule=None,
    catchup=False,
    tags=["example", "browserbase"],
    params={
        "base_url": Param(
            None, type=["null", "string"], description="Site to log in to (empty: the demo shop)"
        ),
        "site_conn_id": Param(
            "browserbase_demo_site",
            type="string",
            description="Airflow connection holding the site's login and password",
        ),
    },
    doc_md=__doc__,
)
def example_browserbase_login_context() -> None:
    create_context = BrowserbaseCreateContextOperator(task_id="create_context")

    @task.browserbase(context_id=create_context.output, persist_context=True, session_timeout=300)
    def log_in(params: dict[str, Any], page: Page | None = None, session: Session | None = None) -> str:
        """Sign in with the form; return the session id, for the sensor to watch."""
        assert page is not None
        assert session is not None
        credentials = BaseHook.get_connection(params["site_conn_id"])
        page.goto(f"{params['base_url'] or demo_shop_url()}/login")
        page.fill("input[name=username]", credentials.login or "")
        page.fill("input[name=password]", credentials.password or "")
        with page.expect_navigation():
            page.click("button[type=submit]")
        rejected = page.locator("[role=alert]")
        if rejected.count():
            raise RuntimeError(f"The site refused the login: {rejected.inner_text()}")
        page.wait_for_url("**/account")
        print(page.locator("#signed-in-as").inner_text())
        return session.id

    login_session_id = log_in()

    context_saved = BrowserbaseSessionSensor(
        task_id="wait_for_context_saved",
        session_id=login_session_id,
        deferrable=True,
        poke_interval=2,
        timeout=300,
    )

    @task.browserbase(context_id=create_context.output, session_timeout=300)
    def read_account(params: dict[str, Any], page: Page | None = None) -> dict[str, str]:
        """Open the account page in a new session: signed in from the context's cookie alone."""
        assert page is not None
        page.goto(f"{params['base_url'] or demo_shop_url()}/account")
        if page.url.rstrip("/").endswith("/login"):
            raise RuntimeError("The context did not keep the login: the site asked to sign in again")
        return {
            "signed_in_as": page.locator("#signed-in-as").inner_text(),
            "remembered": page.locator("#remembered").inner_text(),
        }

    account = read_account()

    delete_context = BrowserbaseDeleteContextOperator(
        task_id="delete_context", context_id=create_context.output
    ).as_teardown(setups=create_context)

    context_saved >> account >> delete_context


example_browserbase_login_context()
