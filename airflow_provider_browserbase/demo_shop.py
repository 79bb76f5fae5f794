"""
Where the demo shop of ``browserbase-local`` is, for the example DAGs' defaults.

``browserbase-local`` serves a small shop at ``/demo`` next to its API, on whatever port it runs. The
examples default to that shop through the ``browserbase_default`` connection, so they work wherever the
server runs (``--port 0`` included); a real site is passed as a param instead. Light on purpose: DAG files
import this when they are parsed.
"""

from __future__ import annotations

DEMO_PATH = "/demo"


def demo_shop_url(path: str = "", conn_id: str = "browserbase_default") -> str:
    """
    The URL of ``path`` in the demo shop of the ``browserbase-local`` that ``conn_id`` points at.

    Use it as a default: ``"{{ params.url or demo_shop_url('/') }}"`` with
    ``user_defined_macros={"demo_shop_url": demo_shop_url}``, or in a task's code.

    :param path: a path inside the shop, e.g. ``"/products"`` (empty: the shop's front page, no slash).
    :param conn_id: the Browserbase connection whose API base URL locates the server.
    :raises ValueError: if the connection points at Browserbase's own API, which has no demo shop.
    """
    from airflow.sdk import BaseHook

    from airflow_provider_browserbase.hooks._connection import is_browserbase_cloud, resolve_base_url

    conn = BaseHook.get_connection(conn_id)
    base_url = resolve_base_url(conn.host, conn.port)
    if is_browserbase_cloud(base_url):
        raise ValueError(
            f"Connection {conn_id!r} points at Browserbase ({base_url}), which has no demo shop: pass the "
            "URL of the site to use as a param (the demo shop exists only on browserbase-local)"
        )
    return f"{base_url}{DEMO_PATH}{path}"
