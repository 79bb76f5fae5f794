from __future__ import annotations

import json
import subprocess
import sys

MODULES = [
    "airflow_provider_browserbase.operators.session",
    "airflow_provider_browserbase.operators.context",
    "airflow_provider_browserbase.operators.downloads",
    "airflow_provider_browserbase.operators.playwright",
    "airflow_provider_browserbase.sensors.session",
    "airflow_provider_browserbase.triggers.session",
    "airflow_provider_browserbase.links.session",
    "airflow_provider_browserbase.decorators.browserbase",
]

HEAVY = ("playwright", "fastapi", "uvicorn", "airflow_provider_browserbase.local")


def test_parsing_a_dag_imports_neither_playwright_nor_the_local_server() -> None:
    script = (
        "import importlib, json, sys\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(MODULES) <= set(loaded)
    offenders = [m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert offenders == []
