"""
The demo website the example DAGs scrape, served by ``browserbase-local`` at ``/demo``.

Run it alone with ``python -m airflow_provider_browserbase.local.demo_site --port 8000``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_browserbase.local.demo_site.app import create_demo_app
from airflow_provider_browserbase.local.demo_site.data import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    LOCAL_STORAGE_KEY,
    PAGE_COUNT,
    PAGE_SIZE,
    PRODUCTS,
    REPORT_CSV,
    REPORT_FILENAME,
    Product,
    product_records,
)

if TYPE_CHECKING:
    from starlette.routing import Mount

MOUNT_PATH = "/demo"


def demo_mount(path: str = MOUNT_PATH) -> Mount:
    """The demo site as a route to add to another app, e.g. ``create_app(config, [demo_mount()])``."""
    from starlette.routing import Mount

    return Mount(path, app=create_demo_app(), name="demo")


__all__ = [
    "DEMO_PASSWORD",
    "DEMO_USERNAME",
    "LOCAL_STORAGE_KEY",
    "MOUNT_PATH",
    "PAGE_COUNT",
    "PAGE_SIZE",
    "PRODUCTS",
    "REPORT_CSV",
    "REPORT_FILENAME",
    "Product",
    "create_demo_app",
    "demo_mount",
    "product_records",
]
