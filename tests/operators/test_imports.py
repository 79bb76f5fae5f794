from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

MODULES = [
    "airflow_provider_browserbase.operators.session",
    "airflow_provider_browserbase.operators.context",
    "airflow_provider_browserbase.operators.downloads",
    "airflow_provider_browserbase.operators.janitor",
    "airflow_provider_browserbase.operators.fetch",
    "airflow_provider_browserbase.operators.search",
    "airflow_provider_browserbase.operators.recording",
    "airflow_provider_browserbase.operators.handoff",
    "airflow_provider_browserbase.links.live_view",
    "airflow_provider_browserbase.callbacks",
    "airflow_provider_browserbase.operators.playwright",
    "airflow_provider_browserbase.sensors.session",
    "airflow_provider_browserbase.triggers.session",
    "airflow_provider_browserbase.links.session",
    "airflow_provider_browserbase.decorators.browserbase",
    "airflow_provider_browserbase._lineage",
]

HEAVY = ("playwright", "fastapi", "uvicorn", "airflow_provider_browserbase.local", "markdownify", "bs4")
# The 'ai' extra: Airflow's AI provider and pydantic-ai load only for DAGs that use them.
AI = ("airflow_provider_browserbase.ai", "airflow.providers.common.ai", "pydantic_ai")
# The 'openlineage' extra: the OpenLineage provider and client load only when they report a task.
OPENLINEAGE = ("openlineage", "airflow.providers.openlineage", "airflow.providers.common.compat.openlineage")
# What Airflow's provider discovery loads of every installed provider, whoever imports what.
DISCOVERY = {
    "airflow.providers.common.ai",
    "airflow.providers.common.ai.get_provider_info",
    "airflow.providers.openlineage",
    "airflow.providers.openlineage.get_provider_info",
}


def in_fresh_process(modules: list[str], then: str = "print(json.dumps(sorted(sys.modules)))\n") -> Any:
    """Import ``modules`` in a new interpreter, as a DAG file would, run ``then``; its last line as JSON."""
    script = (
        f"import importlib, json, sys\nfor name in {modules!r}:\n    importlib.import_module(name)\n" + then
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_parsing_a_dag_imports_neither_playwright_nor_the_local_server() -> None:
    loaded = in_fresh_process(MODULES)
    assert set(MODULES) <= set(loaded)
    offenders = [
        m
        for m in loaded
        if any(m == h or m.startswith(h + ".") for h in (*HEAVY, *AI, *OPENLINEAGE)) and m not in DISCOVERY
    ]
    assert offenders == []


def test_parsing_builds_no_model_and_a_hook_builds_them_all() -> None:
    # Building every pydantic model at import was most of the provider's DAG-parse cost; a hook (execution
    # time) builds them all at once, before any thread can race pydantic's on-demand build.
    report = in_fresh_process(
        MODULES,
        "from pydantic import BaseModel\n"
        "import airflow_provider_browserbase.models as m\n"
        "def models():\n"
        "    return [v for v in vars(m).values() if isinstance(v, type) and issubclass(v, BaseModel)\n"
        "            and v.__module__ == m.__name__]\n"
        "parsed = [v.__name__ for v in models() if v.__pydantic_complete__]\n"
        "from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook\n"
        "BrowserbaseHook('browserbase_default')\n"
        "missing = [v.__name__ for v in models() if not v.__pydantic_complete__]\n"
        "print(json.dumps({'count': len(models()), 'built_at_parse': parsed, 'not_built': missing}))\n",
    )
    assert report["count"] >= 20
    assert report["built_at_parse"] == []
    assert report["not_built"] == []


def test_the_sensor_imports_the_trigger_machinery_only_when_it_defers() -> None:
    loaded = set(
        in_fresh_process([m for m in MODULES if m != "airflow_provider_browserbase.triggers.session"])
    )
    # Ours only: Airflow 3.1's own imports load airflow.triggers.base anyway, 3.3's do not.
    assert "airflow_provider_browserbase.triggers.session" not in loaded
