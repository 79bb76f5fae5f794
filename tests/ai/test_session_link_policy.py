"""
The "Browserbase Session" button on agent tasks, added by the provider's cluster policy with nothing from
the DAG's author: parsed through a ``DagBag`` (as the DAG processor and every worker parse), serialized
(what the UI reads) and read back as the API server does.
"""

from __future__ import annotations

import importlib.metadata
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[2]
LINK = "Browserbase Session"

DAG_FILE = """
from airflow.sdk import dag, task
from airflow.providers.common.ai.operators.agent import AgentOperator
from pydantic_ai.capabilities import Toolset

from airflow_provider_browserbase.ai import BrowserbaseToolset


@dag(schedule=None)
def agents():
    @task.agent(llm_conn_id="llm", toolsets=[BrowserbaseToolset()])
    def browses():
        return "Find the cheapest lamp"

    @task.agent(llm_conn_id="llm", toolsets=[BrowserbaseToolset().prefixed("shop")])
    def browses_wrapped():
        return "Find the cheapest lamp"

    @task.agent(llm_conn_id="llm")
    def thinks():
        return "Think"

    @task
    def plain():
        return 1

    @task.agent(llm_conn_id="llm", toolsets=[BrowserbaseToolset()])
    def browses_mapped(item):
        return item

    browses()
    browses_wrapped()
    thinks()
    plain()
    browses_mapped.expand(item=["a", "b"])
    AgentOperator(
        task_id="classic", prompt="p", llm_conn_id="llm",
        capabilities=[Toolset(BrowserbaseToolset())],
    )


agents()
"""


def policy_manager() -> Any:
    """Airflow's pluggy manager of policies (a function on 3.3, a module global before)."""
    from airflow import settings

    getter = getattr(settings, "get_policy_plugin_manager", None)
    return getter() if getter is not None else settings.POLICY_PLUGIN_MANAGER


@pytest.fixture
def provider_policy() -> Iterator[None]:
    """The provider's policy, registered as Airflow registers the ``airflow.policy`` entry point."""
    from airflow_provider_browserbase import policies

    manager = policy_manager()
    registered = manager.is_registered(policies)
    if not registered:
        manager.register(policies, name="airflow_provider_browserbase-test")
    yield
    if not registered:
        manager.unregister(policies)


def parsed(tmp_path: Path) -> Any:
    from airflow.models import DagBag

    (tmp_path / "agents.py").write_text(DAG_FILE)
    bag = DagBag(dag_folder=str(tmp_path))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["agents"]


def links_after_serialization(dag: Any) -> dict[str, dict[str, str]]:
    from airflow.serialization import serialized_objects

    # DagSerialization on Airflow 3.3, SerializedDAG before.
    serializer = getattr(serialized_objects, "DagSerialization", None) or serialized_objects.SerializedDAG
    encoded = serializer.to_dict(dag)
    served = serializer.from_dict(encoded)
    return {task.task_id: {name: "" for name in task.extra_links} for task in served.tasks} | {
        "_encoded": {
            task["__var"]["task_id"]: task["__var"].get("_operator_extra_links", {})
            for task in encoded["dag"]["tasks"]
        }
    }


@pytest.mark.usefixtures("provider_policy")
def test_agent_tasks_with_the_toolset_get_the_session_link_and_others_do_not(tmp_path: Path) -> None:
    dag = parsed(tmp_path)
    links = links_after_serialization(dag)
    browsing = {"browses", "browses_wrapped", "browses_mapped", "classic"}
    for task_id in browsing:
        # Stored in the serialized DAG with the XCom key the toolset fills when it opens the session (not
        # the _link_ key the worker writes at the task's end): the button works while the agent browses.
        assert links["_encoded"][task_id].get(LINK) == "browserbase_session_url", task_id
        assert LINK in links[task_id], task_id
    for task_id in ("thinks", "plain"):
        assert LINK not in links[task_id], task_id
    # common-ai's own link stays.
    assert "HITL Review" in links["browses"]


@pytest.mark.usefixtures("provider_policy")
def test_the_policy_adds_the_link_once(tmp_path: Path) -> None:
    from airflow_provider_browserbase.ai.toolset import add_session_link
    from airflow_provider_browserbase.links.session import BrowserbaseSessionLink

    task = parsed(tmp_path).get_task("browses")
    assert add_session_link(task) is True
    assert sum(isinstance(link, BrowserbaseSessionLink) for link in task.operator_extra_links) == 1


def test_without_the_policy_an_agent_task_has_only_common_ais_links(tmp_path: Path) -> None:
    """What the policy is for: @task.agent declares only its own links."""
    from airflow_provider_browserbase import policies

    # The installed entry point registers the policy in this process: take it out for this test only.
    manager = policy_manager()
    name = manager.get_name(policies) if manager.is_registered(policies) else None
    if name is not None:
        manager.unregister(policies)
    try:
        assert LINK not in links_after_serialization(parsed(tmp_path))["browses"]
    finally:
        if name is not None:
            manager.register(policies, name=name)


def test_a_dag_that_never_imports_the_toolset_costs_the_policy_a_lookup() -> None:
    from airflow_provider_browserbase import policies

    saved = sys.modules.pop(policies._TOOLSET_MODULE, None)
    try:

        class Anything:
            operator_extra_links = ()

        task = Anything()
        policies.task_policy(task=task)
        assert task.operator_extra_links == ()
        assert policies._TOOLSET_MODULE not in sys.modules
    finally:
        if saved is not None:
            sys.modules[policies._TOOLSET_MODULE] = saved


def test_the_policy_is_declared_as_an_airflow_policy_entry_point() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = project["entry-points"]["airflow.policy"]
    assert declared == {"airflow_provider_browserbase": "airflow_provider_browserbase.policies"}
    installed = {
        ep.name: ep.value
        for ep in importlib.metadata.entry_points(group="airflow.policy")
        if ep.dist is not None and ep.dist.name == "airflow-provider-browserbase"
    }
    assert installed == declared, (
        "the installed airflow-provider-browserbase predates its airflow.policy entry point: "
        "reinstall it (uv pip install -e .) so Airflow loads the policy"
    )
