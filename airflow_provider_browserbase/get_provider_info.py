"""Provider metadata read by Airflow's providers manager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_browserbase import __version__


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-browserbase",
        "name": "Browserbase",
        "description": "`Browserbase <https://www.browserbase.com/>`__ cloud headless browsers.",
        "versions": [__version__],
        "connection-types": [],
    }
