"""
Secrets never leak: every example DAG runs with a distinctive API key and an external proxy (a real one on
loopback, which browserbase-local uses with the credentials) whose password comes from a connection
through templates. Afterwards the API key and the proxy password appear
in no task log (stdout/stderr of ``dag.test()`` and the files under ``AIRFLOW_HOME/logs``), no XCom, no
rendered template field and no provider exception text; a session's signing key appears only inside the
connect URL that the create operator pushes to XCom on purpose, and never in a log.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from reliability_helpers import API_KEY, Admin, conn_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from settings_sites import ForwardProxy  # a test helper beside the local-server tests

from airflow_provider_browserbase import exceptions
from airflow_provider_browserbase.local.demo_site import DEMO_PASSWORD, DEMO_USERNAME, PRODUCTS

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.server import LocalServer

PROXY_USER = "px_user_71c0"
PROXY_PASSWORD = "px_PASS_4e8b2c91d7a3"
EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"


@pytest.fixture
def raised_texts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of every provider exception created while the test runs."""
    texts: list[str] = []
    original = exceptions.BrowserbaseError.__init__

    def recording(self: Exception, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        texts.append(f"{type(self).__name__}: {self}")

    monkeypatch.setattr(exceptions.BrowserbaseError, "__init__", recording)
    return texts


def with_proxies(task: Any, server: str) -> None:
    """Give a session-creating task the templated external proxy (mapped tasks through partial kwargs)."""
    proxies = [
        {
            "type": "external",
            "server": server,
            "username": "{{ conn.browserbase_proxy.login }}",
            "password": "{{ conn.browserbase_proxy.password }}",
        }
    ]
    if hasattr(task, "partial_kwargs"):
        task.partial_kwargs["proxies"] = proxies
    else:
        task.proxies = proxies


def rows(table: str, run_ids: list[str]) -> list[str]:
    from airflow.utils.session import create_session
    from sqlalchemy import bindparam, text

    query = text(f"SELECT * FROM {table} WHERE run_id IN :ids").bindparams(  # noqa: S608 - fixed names
        bindparam("ids", expanding=True)
    )
    with create_session() as session:
        return [repr(tuple(row)) for row in session.execute(query, {"ids": run_ids})]


def xcom_rows(run_ids: list[str]) -> list[tuple[str, str, str]]:
    from airflow.utils.session import create_session
    from sqlalchemy import bindparam, text

    query = text("SELECT task_id, key, value FROM xcom WHERE run_id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    with create_session() as session:
        return [(r[0], r[1], str(r[2])) for r in session.execute(query, {"ids": run_ids})]


@pytest.mark.usefixtures("airflow_db")
def test_no_secret_in_logs_xcom_rendered_fields_or_errors(
    chromium_server: LocalServer,
    chromium_admin: Admin,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    raised_texts: list[str],
    tmp_path: Path,
) -> None:
    from airflow.models import DagBag
    from airflow.models.pool import Pool

    from airflow_provider_browserbase.operators.playwright import BrowserbasePlaywrightOperator
    from airflow_provider_browserbase.operators.session import BrowserbaseCreateSessionOperator

    monkeypatch.setenv("AIRFLOW_CONN_BROWSERBASE_DEFAULT", conn_json(chromium_server.base_url))
    monkeypatch.setenv(
        "AIRFLOW_CONN_BROWSERBASE_PROXY",
        json.dumps({"conn_type": "generic", "login": PROXY_USER, "password": PROXY_PASSWORD}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_BROWSERBASE_DEMO_SITE",
        json.dumps({"conn_type": "generic", "login": DEMO_USERNAME, "password": DEMO_PASSWORD}),
    )
    Pool.create_or_update_pool(
        "browserbase", slots=4, description="Browserbase sessions", include_deferred=False
    )
    demo = f"{chromium_server.base_url}/demo"
    confs = {
        "example_browserbase_search_fetch": {"destination": f"file://{tmp_path}/search"},
        "example_browserbase_scrape": {"base_url": demo, "output_dir": str(tmp_path / "scrape")},
        "example_browserbase_fanout": {"urls": [f"{demo}/{p.path}" for p in PRODUCTS[:2]]},
        "example_browserbase_login_context": {"base_url": demo},
        "example_browserbase_archive": {"page_url": f"{demo}/download", "destination": f"file://{tmp_path}"},
        "example_browserbase_page_title": {"url": f"{demo}/"},
        "example_browserbase_recording": {"url": f"{demo}/products", "recordings": str(tmp_path / "rec")},
        # Reads every Airflow-tagged session with the API key; a dry run, so the other runs are untouched.
        "example_browserbase_janitor": {"report_only": True},
    }
    bag = DagBag(dag_folder=str(EXAMPLES))
    # The AI examples need a model: tests/ai runs them against a scripted one, with their own secret check.
    ai_examples = {dag_id for dag_id, dag in bag.dags.items() if "ai" in dag.tags}
    # A human-in-the-loop example waits for a person: tests/system/test_handoff.py runs it under a real
    # scheduler, as the person, and checks where its live-view URL may appear.
    hitl_examples = {dag_id for dag_id, dag in bag.dags.items() if "human-in-the-loop" in dag.tags}
    covered = sorted(set(bag.dag_ids) - ai_examples - hitl_examples)
    assert covered == sorted(confs), "an example DAG is not covered by this test"

    logs_dir = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    logs_before = (
        {p: p.stat().st_size for p in logs_dir.rglob("*") if p.is_file()} if logs_dir.exists() else {}
    )
    run_ids: list[str] = []
    proxied = 0
    with ForwardProxy(PROXY_USER, PROXY_PASSWORD) as proxy:
        for dag_id, conf in confs.items():
            dag = bag.dags[dag_id]
            for task in dag.tasks:
                operator_class = getattr(task, "operator_class", type(task))
                if isinstance(operator_class, type) and issubclass(
                    operator_class, (BrowserbasePlaywrightOperator, BrowserbaseCreateSessionOperator)
                ):
                    with_proxies(task, proxy.address)
                    proxied += 1
            dag_run = dag.test(run_conf=conf)
            assert str(dag_run.state) == "success", f"{dag_id} ended {dag_run.state}"
            run_ids.append(dag_run.run_id)
    assert proxied >= 5
    # The rendered credentials reached the proxy: the browsers' requests went through it, authorised.
    assert proxy.targets(), "no request went through the external proxy"

    registry = chromium_server.app.state.registry  # type: ignore[union-attr]
    sessions = list(registry.sessions.values())
    assert sessions
    signing_keys = {s.signing_key for s in sessions}
    connect_urls = {f"ws://{chromium_server.config.netloc}/?signingKey={key}" for key in signing_keys}

    captured = capfd.readouterr()
    log_text = captured.out + captured.err
    for path in logs_dir.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                handle.seek(logs_before.get(path, 0))
                log_text += handle.read().decode(errors="replace")
    assert "Running in Browserbase session" in log_text, "the task logs were not captured"
    rendered = rows("rendered_task_instance_fields", run_ids)
    assert any("proxies" in row for row in rendered), "no rendered proxies to check"
    assert any("***" in row for row in rendered), "the proxy password was not masked in rendered fields"
    xcoms = xcom_rows(run_ids)

    places = {
        "logs": [log_text],
        "rendered fields": rendered,
        "xcom": [v for *_, v in xcoms],
        "errors": raised_texts,
    }
    for where, texts in places.items():
        for secret, name in ((API_KEY, "API key"), (PROXY_PASSWORD, "proxy password")):
            leaks = [t for t in texts if secret in t]
            assert leaks == [], f"the {name} appears in the {where}: {leaks[0][:500]}"
    for key in signing_keys:
        assert key not in log_text, "a signing key appears in the logs"
        for row in rendered:
            assert key not in row, f"a signing key appears in a rendered field: {row[:300]}"
        for task_id, xcom_key, value in xcoms:
            if key in value:
                # Only the create operator's connect URL, which the user asked for (push_connect_url).
                assert task_id == "create_session", (task_id, xcom_key)
                decoded = json.loads(value)
                url = decoded if isinstance(decoded, str) else decoded["connect_url"]
                assert url in connect_urls
    assert any(task_id == "create_session" and key == "connect_url" for task_id, key, _ in xcoms)
