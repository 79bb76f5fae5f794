"""
Hand a login that needs a person to a person, then scrape with the saved login.

Some logins cannot be automated: a one-time code, a captcha, a "which account?" choice. The DAG creates a
context, then ``BrowserbaseLiveHandoffOperator`` opens the site's login page in a session that saves into
that context, and asks a person in Airflow's **Required Actions** (Browse → Required Actions, or the task's
"Browserbase Live View" button): they sign in inside the live view, then answer **Done**. The operator
checks that the browser reached the signed-in page (it asks again if not), ends the session, which saves
the login into the context, and a scrape task reads the account page in a new session from that context,
without signing in. "Cancel" skips the rest of the run; the context is deleted whatever happened.

By default it uses the demo shop of the ``browserbase-local`` that ``browserbase_default`` points at:
its sign-in with a second factor asks for user ``demo``, password ``browserbase-local``, then a code that
the shop shows on its "security codes" page (the link opens it in a new tab of the same browser, which the
live view shows as a tab)::

    airflow dags trigger example_browserbase_login_handoff
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import Param, dag, task

from airflow_provider_browserbase.demo_shop import demo_shop_url
from airflow_provider_browserbase.operators.context import (
    BrowserbaseCreateContextOperator,
    BrowserbaseDeleteContextOperator,
)
from airflow_provider_browserbase.operators.handoff import BrowserbaseLiveHandoffOperator

if TYPE_CHECKING:
    from playwright.sync_api import Page


@dag(
    schedule=None,
    catchup=False,
    tags=["example", "browserbase", "human-in-the-loop"],
    params={
        "login_url": Param(None, type=["null", "string"], description="Login page (empty: the demo shop's)"),
        "account_url": Param(
            None, type=["null", "string"], description="A page only a signed-in user sees (empty: the demo's)"
        ),
    },
    user_defined_macros={"demo_shop_url": demo_shop_url},
    doc_md=__doc__,
)
def example_browserbase_login_handoff() -> None:
    create_context = BrowserbaseCreateContextOperator(task_id="create_context")

    sign_in = BrowserbaseLiveHandoffOperator(
        task_id="sign_in",
        subject="Sign in to the shop for the nightly scrape",
        body=(
            "The shop asks for a one-time code, which only a person can give.\n\n"
            "1. Open the live view below and sign in (demo shop: `demo` / `browserbase-local`).\n"
            "2. Open the *security codes* link, type the code on the first tab, press Enter.\n"
            "3. When you see **Your account**, choose **Done** here."
        ),
        start_url="{{ params.login_url or demo_shop_url('/login-2fa') }}",
        context_id=create_context.output,
        persist_context=True,
        # The check after "Done": the account page is open (else the person is asked again).
        done_when_url_matches=r"/account$",
        response_timeout=timedelta(minutes=30),
    )

    @task.browserbase(context_id=create_context.output, session_timeout=300)
    def read_account(params: dict[str, Any], page: Page | None = None) -> str:
        """Open the account page in a new session: signed in from the saved context alone."""
        assert page is not None
        page.goto(params["account_url"] or demo_shop_url("/account"))
        signed_in = page.locator("#signed-in-as")
        if not signed_in.count():
            raise RuntimeError(f"The saved login did not hold: the site showed {page.url}")
        return signed_in.inner_text()

    delete_context = BrowserbaseDeleteContextOperator(
        task_id="delete_context", context_id=create_context.output
    ).as_teardown(setups=create_context)

    sign_in >> read_account() >> delete_context


example_browserbase_login_handoff()
