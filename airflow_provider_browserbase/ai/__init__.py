"""
AI browser work on Airflow's own AI provider (``apache-airflow-providers-common-ai``).

- :class:`~airflow_provider_browserbase.ai.toolset.BrowserbaseToolset`: browser tools for ``@task.agent``,
  in a Browserbase session that lives as long as the agent's run.
- :func:`~airflow_provider_browserbase.ai.extract.extract`: turn the page of a ``@task.browserbase`` task
  into a validated pydantic object through an LLM connection.

Installed with the ``ai`` extra (``pip install 'airflow-provider-browserbase[ai]'``, Python 3.11+). The
provider's core never imports this package, so DAGs that do not use it pay nothing for it.
"""

from __future__ import annotations

try:
    import airflow.providers.common.ai  # noqa: F401
    import pydantic_ai  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the installation
    raise ImportError(
        "airflow_provider_browserbase.ai needs the 'ai' extra: "
        "pip install 'airflow-provider-browserbase[ai]' (apache-airflow-providers-common-ai and pydantic-ai)"
    ) from err

from airflow_provider_browserbase.ai.extract import extract
from airflow_provider_browserbase.ai.toolset import BrowserbaseToolset

__all__ = ["BrowserbaseToolset", "extract"]
