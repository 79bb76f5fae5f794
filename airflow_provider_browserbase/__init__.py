"""Apache Airflow provider for Browserbase, the cloud headless-browser service."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
