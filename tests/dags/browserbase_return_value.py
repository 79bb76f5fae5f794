"""
What ``@task.browserbase`` and ``BrowserbasePlaywrightOperator`` log about their return value, for
``tests/decorators/test_return_value_log.py``: the page title (shown), the session's connect URL (shown
with its signing key masked) and a value the task asks not to show; and ``machinery``, a function called
with ``PythonOperator``'s arguments (a rendered ``templates_dict``, context keys, ``**kwargs``) besides the
page.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from airflow_provider_browserbase.operators.playwright import BrowserbasePlaywrightOperator


def connect_url_of(session):  # type: ignore[no-untyped-def]
    return session.connect_url


def machinery(page, url, templates_dict, ti, **kwargs):  # type: ignore[no-untyped-def]
    """Report what PythonOperator's rules gave the function, in one line the test reads from the log."""
    page.goto(url + templates_dict["path"])
    injected = ",".join(sorted(name for name in ("browser", "session", "context") if name in kwargs))
    heading = page.inner_text("h1").split(",")[0]
    rendered = templates_dict["run"] == kwargs["run_id"]
    return (
        f"machinery: task={ti.task_id} h1={heading} run={rendered} injected={injected} "
        f"context_is_airflows={kwargs['context']['ti'] is ti}"
    )


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"demo_url": Param("http://127.0.0.1:8787/demo", type="string")},
)
def browserbase_return_value() -> None:
    @task.browserbase(session_timeout=120)
    def title(page, params=None):  # type: ignore[no-untyped-def]
        page.goto(f"{params['demo_url']}/")
        return page.title()

    @task.browserbase(session_timeout=120, show_return_value_in_logs=False)
    def quiet(page, params=None):  # type: ignore[no-untyped-def]
        page.goto(f"{params['demo_url']}/products")
        return "quiet-" + page.title()

    connect_url = BrowserbasePlaywrightOperator(
        task_id="connect_url", python_callable=connect_url_of, session_timeout=120
    )
    called = BrowserbasePlaywrightOperator(
        task_id="machinery",
        python_callable=machinery,
        op_args=["{{ params.demo_url }}"],
        templates_dict={"path": "/products", "run": "{{ run_id }}"},
        session_timeout=120,
    )
    title() >> quiet() >> connect_url >> called


browserbase_return_value()
