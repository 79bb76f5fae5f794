"""Provider metadata read by Airflow's providers manager (entry point ``apache_airflow_provider``).

Kept import-light: Airflow calls this while discovering providers, in every process.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_browserbase import __version__
from airflow_provider_browserbase.hooks.connection_form import CONN_FIELDS, CONN_TYPE, UI_FIELD_BEHAVIOUR

_PKG = "airflow_provider_browserbase"
INTEGRATION = "Browserbase"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-browserbase",
        "name": "Browserbase",
        "description": (
            "`Browserbase <https://www.browserbase.com/>`__: cloud headless browsers for scraping, "
            "form submission, site checks, screenshots and PDFs, driven with Playwright."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://docs.browserbase.com/",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": INTEGRATION, "python-modules": [f"{_PKG}.hooks.browserbase"]}],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    f"{_PKG}.operators.session",
                    f"{_PKG}.operators.context",
                    f"{_PKG}.operators.playwright",
                    f"{_PKG}.operators.downloads",
                    f"{_PKG}.operators.janitor",
                    f"{_PKG}.operators.fetch",
                    f"{_PKG}.operators.search",
                    f"{_PKG}.operators.recording",
                    f"{_PKG}.operators.handoff",
                ],
            }
        ],
        "sensors": [{"integration-name": INTEGRATION, "python-modules": [f"{_PKG}.sensors.session"]}],
        "triggers": [{"integration-name": INTEGRATION, "python-modules": [f"{_PKG}.triggers.session"]}],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": f"{_PKG}.hooks.browserbase.BrowserbaseHook",
                "hook-name": "Browserbase",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
        "extra-links": [
            f"{_PKG}.links.session.BrowserbaseSessionLink",
            f"{_PKG}.links.live_view.BrowserbaseLiveViewLink",
        ],
        "task-decorators": [
            {"name": "browserbase", "class-name": f"{_PKG}.decorators.browserbase.browserbase_task"}
        ],
    }
