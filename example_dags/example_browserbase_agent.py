"""
An AI agent that browses: ``@task.agent`` (Airflow's AI provider) with ``BrowserbaseToolset``.

The agent gets a browser in a Browserbase session for the length of its run (tools ``goto``,
``read_text``, ``click``, ``fill``, ``links``), may only open the shop's URLs, and answers with the SKU of
the cheapest desk lamp, which it can only learn by reading the listing's pages. The session is ended
when the run ends, fails or is killed. The model and its key come from the ``pydanticai`` connection
``pydanticai_default``; the run is capped at 20 model requests and 30 browser actions.

Needs the ``ai`` extra (``pip install 'airflow-provider-browserbase[ai]'``, Python 3.11+). With
``browserbase-local`` serving the demo shop, and any OpenAI-compatible model::

    export AIRFLOW_CONN_PYDANTICAI_DEFAULT='{"conn_type": "pydanticai", "password": "sk-...",
                                             "extra": {"model": "openai:gpt-5-mini"}}'
    airflow dags test example_browserbase_agent

Offline, the project's tests point the connection at a scripted OpenAI-compatible server
(``tests/ai/scripted_openai.py``, model ``openai-chat:lamp``) instead of a model.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task

from airflow_provider_browserbase.ai import BrowserbaseToolset


@dag(
    schedule=None,
    catchup=False,
    tags=["example", "browserbase", "ai"],
    params={"shop_url": Param("http://127.0.0.1:8787/demo", type="string", description="The shop to search")},
    doc_md=__doc__,
)
def example_browserbase_agent() -> None:
    @task.agent(
        llm_conn_id="pydanticai_default",
        system_prompt=(
            "You find things in a web shop with a browser. Open pages with goto, read them with "
            "read_text, follow the listing's pages to the end, and answer with the SKU alone."
        ),
        toolsets=[
            BrowserbaseToolset(
                allowed_url_prefixes=["{{ params.shop_url }}"],
                max_tool_calls=30,
                session_timeout=300,
                user_metadata={"example": "agent"},
            )
        ],
        usage_limits={"request_limit": 20},
    )
    def cheapest_desk_lamp(params: dict[str, Any]) -> str:
        return (
            f"Find the cheapest desk lamp in the shop listing at {params['shop_url']}/products "
            "and answer with its SKU only."
        )

    # The task gets the "Browserbase Session" button (the live view while the agent browses) from the
    # provider's cluster policy: nothing to add here.
    cheapest_desk_lamp()


example_browserbase_agent()
