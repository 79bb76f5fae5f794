"""An agent signs in to the demo shop with a password from a connection, typed by name (tests/ai)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from airflow_provider_browserbase.ai import BrowserbaseToolset


@dag(schedule=None, catchup=False, params={"shop_url": "http://127.0.0.1:8787/demo"})
def ai_agent_secret() -> None:
    @task.agent(
        llm_conn_id="pydanticai_default",
        system_prompt="Sign in with the browser tools; type the password as the secret 'password'.",
        toolsets=[
            BrowserbaseToolset(
                allowed_url_prefixes=["{{ params.shop_url }}"],
                secrets={"password": "{{ conn.browserbase_demo_site.password }}"},
            )
        ],
    )
    def sign_in(params: dict[str, Any]) -> str:
        return f"Sign in at {params['shop_url']}/login as demo and say who the page says is signed in."

    sign_in()


ai_agent_secret()
