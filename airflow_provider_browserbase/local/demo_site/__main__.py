"""``python -m airflow_provider_browserbase.local.demo_site``: serve the demo site alone."""

from __future__ import annotations

import argparse

import uvicorn

from airflow_provider_browserbase.local.demo_site.app import create_demo_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the demo shop of the example DAGs at the root.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    uvicorn.run(create_demo_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
