"""An agent whose model stalls after its first browser action; tests/ai kills the task meanwhile."""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from airflow_provider_browserbase.ai import BrowserbaseToolset


@dag(schedule=None, catchup=False, params={"shop_url": "http://127.0.0.1:8787/demo"})
def ai_agent_kill() -> None:
    # keepAlive: only a release ends the session, not the task process's sockets closing.
    @task.agent(
        llm_conn_id="pydanticai_default",
        toolsets=[BrowserbaseToolset(keep_alive=True, allowed_url_prefixes=["{{ params.shop_url }}"])],
    )
    def browse_until_killed(params: dict[str, Any]) -> str:
        return f"Browse {params['shop_url']}/products"

    browse_until_killed()


ai_agent_kill()
