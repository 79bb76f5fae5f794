"""
``@task.agent`` with ``BrowserbaseToolset`` in real DAG runs (``dag.test()``): a real ``pydanticai``
connection whose model is the scripted OpenAI-compatible server, real Chromium through
``browserbase-local``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from ai_helpers import new_sessions, session_statuses
from scripted_models import FOREIGN_URL, STALL_RELEASE
from scripted_openai import ScriptedOpenAI

from airflow_provider_browserbase.local.demo_site import DEMO_PASSWORD, DEMO_USERNAME, PRODUCTS
from tests.examples.example_helpers import EXAMPLE_DAGS, run_example, task_states, xcom_value

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.usefixtures("airflow_db", "local_server")

TEST_DAGS = Path(__file__).resolve().parents[1] / "dags"
LAMP = next(p for p in PRODUCTS if "lamp" in p.name.lower())


@pytest.fixture(scope="module")
def scripted_llm() -> Iterator[ScriptedOpenAI]:
    with ScriptedOpenAI() as server:
        yield server


def use_script(monkeypatch: pytest.MonkeyPatch, server: ScriptedOpenAI, script: str) -> None:
    """Point ``pydanticai_default`` at the scripted server, with the model that picks ``script``."""
    server.requests.clear()
    conn = {
        "conn_type": "pydanticai",
        "host": server.base_url,
        "password": "sk-scripted-key",
        "extra": {"model": f"openai-chat:{script}"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_PYDANTICAI_DEFAULT", json.dumps(conn))


def test_agent_example_finds_the_cheapest_lamp_through_the_browser(
    demo_url: str, scripted_llm: ScriptedOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.models import DagBag

    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

    use_script(monkeypatch, scripted_llm, "lamp")
    before = session_statuses()
    dag_run = run_example(
        DagBag(dag_folder=str(EXAMPLE_DAGS)), "example_browserbase_agent", shop_url=demo_url
    )

    assert task_states(dag_run) == {"cheapest_desk_lamp": "success"}
    assert xcom_value(dag_run, "cheapest_desk_lamp") == LAMP.sku
    prompts = scripted_llm.prompts()
    # What only the page knows reached the model over HTTP, from the browser's read_text.
    assert any(f"{LAMP.name} | {LAMP.sku} | ${LAMP.price:.2f}" in p for p in prompts)
    # The allow-list, rendered from params, refused the foreign URL, and the agent went on.
    assert any(FOREIGN_URL in p and f"only open URLs under {demo_url}" in p for p in prompts)
    # One session, tagged with the task instance, ended with the run; its link stored for the UI.
    created = new_sessions(before)
    assert list(created.values()) == ["COMPLETED"]
    session_id = next(iter(created))
    hook = BrowserbaseHook()
    tags = (hook.get_session(session_id).user_metadata or {})["airflow"]
    assert (tags["dag_id"], tags["task_id"]) == ("example_browserbase_agent", "cheapest_desk_lamp")
    # Saved while the session ran: its live view with the token; once ended the hook gives the plain page.
    link = xcom_value(dag_run, "cheapest_desk_lamp", "browserbase_session_url")
    assert link.startswith(hook.session_url(session_id) + "?token=")


def test_a_failing_agent_task_ends_its_session(
    demo_url: str, scripted_llm: ScriptedOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.models import DagBag

    # The scripted server refuses this model name after the agent opened the browser? No: it refuses at
    # once, so make the failure come after a tool call: the lamp script, with a request limit of 2.
    use_script(monkeypatch, scripted_llm, "lamp")
    bag = DagBag(dag_folder=str(EXAMPLE_DAGS))
    task = bag.dags["example_browserbase_agent"].get_task("cheapest_desk_lamp")
    monkeypatch.setattr(task, "usage_limits", {"request_limit": 3})
    before = session_statuses()
    dag_run = run_example(bag, "example_browserbase_agent", shop_url=demo_url)

    assert task_states(dag_run) == {"cheapest_desk_lamp": "failed"}
    assert len(scripted_llm.requests) == 3  # it did browse before the limit stopped it
    created = new_sessions(before)
    assert list(created.values()) == ["COMPLETED"]


def test_a_secret_from_a_connection_is_typed_but_never_logged(
    demo_url: str,
    scripted_llm: ScriptedOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow.models import DagBag

    use_script(monkeypatch, scripted_llm, "login")
    monkeypatch.setenv(
        "AIRFLOW_CONN_BROWSERBASE_DEMO_SITE",
        json.dumps({"conn_type": "generic", "login": DEMO_USERNAME, "password": DEMO_PASSWORD}),
    )
    capfd.readouterr()
    dag = DagBag(dag_folder=str(TEST_DAGS / "ai_agent_secret.py")).dags["ai_agent_secret"]
    dag_run = dag.test(run_conf={"shop_url": demo_url})

    # Signed in: the password was typed into the page ...
    assert xcom_value(dag_run, "sign_in") == f"Signed in as {DEMO_USERNAME}"
    # ... without the model ever seeing it ...
    assert all(DEMO_PASSWORD not in p for p in scripted_llm.prompts())
    # (the model asked for it by name: its tool call carries {"secret": "password"})
    calls = [
        json.loads(call["function"]["arguments"])
        for body in scripted_llm.requests
        for message in body["messages"]
        for call in message.get("tool_calls") or []
    ]
    assert {"selector": "input[name=password]", "secret": "password"} in calls
    # ... and it is in no log: dag.test() prints the task's log (tool calls included); files, if any.
    out, err = capfd.readouterr()
    assert "Tool call: fill" in out
    logs = [p for p in (Path(os.environ["AIRFLOW_HOME"]) / "logs").rglob("*") if "ai_agent_secret" in str(p)]
    texts: dict[str, Any] = {"stdout": out, "stderr": err}
    texts.update({str(p): p.read_text(errors="replace") for p in logs if p.is_file()})
    leaks = {name: text.count(DEMO_PASSWORD) for name, text in texts.items() if DEMO_PASSWORD in text}
    assert leaks == {}


def test_a_killed_agent_task_ends_its_session(
    demo_url: str, scripted_llm: ScriptedOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM to a real task process while its model thinks: the run is cancelled, the session ended."""
    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

    use_script(monkeypatch, scripted_llm, "stall")
    STALL_RELEASE.clear()
    before = session_statuses()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve().parent / "run_kill_dag.py"), demo_url],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        # The model stalls on its second request, after the goto opened the session.
        while len(scripted_llm.requests) < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(scripted_llm.requests) == 2, process.communicate(timeout=30)[0][-4000:]
        created = new_sessions(before)
        assert list(created.values()) == ["RUNNING"]
        session_id = next(iter(created))
        assert BrowserbaseHook().get_session(session_id).keep_alive

        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=90)
    finally:
        STALL_RELEASE.set()
        if process.poll() is None:
            process.kill()
            process.wait()
    # keepAlive: the session ended because the toolset ended it, not because a socket closed.
    assert session_statuses()[session_id] == "COMPLETED"
    assert f"Ended Browserbase session {session_id}" in output, output[-4000:]
    assert "DAG RUN STATE failed" in output, output[-4000:]


def test_airflow_dags_test_runs_the_agent_example(
    demo_url: str, scripted_llm: ScriptedOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command a user types, in its own process, against the scripted OpenAI-compatible server."""
    from airflow.models.dagrun import DagRun

    use_script(monkeypatch, scripted_llm, "lamp")
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(airflow), "dags", "test", "example_browserbase_agent", "-c", json.dumps({"shop_url": demo_url})],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert any(f"{LAMP.name} | {LAMP.sku} | ${LAMP.price:.2f}" in p for p in scripted_llm.prompts())
    (last,) = sorted(DagRun.find(dag_id="example_browserbase_agent"), key=lambda r: r.start_date)[-1:]
    assert str(last.state) == "success"
    assert xcom_value(last, "cheapest_desk_lamp") == LAMP.sku
