"""The ``browserbase-local`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import shutil
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_provider_browserbase.local.config import LocalConfig, default_api_key, make_own_data_dir

if TYPE_CHECKING:
    from types import FrameType

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not 0 <= value < math.inf:  # also refuses nan
        raise argparse.ArgumentTypeError("must be a finite number, 0 or more")
    return value


def _host_list_file(text: str) -> Path:
    # Checked here, so a bad list is a usage error before the server starts.
    from airflow_provider_browserbase.local.netpolicy import load_block_list

    path = Path(text)
    try:
        load_block_list(path)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {exc.strerror}") from None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="browserbase-local",
        description="Serve the Browserbase REST API on this machine, each session a real headless Chromium.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8787, help="port to bind; 0 picks a free one (default 8787)"
    )
    parser.add_argument(
        "--api-key",
        default=None,
        help="required X-BB-API-Key (default: $BROWSERBASE_API_KEY, else bb_local_dev_key)",
    )
    parser.add_argument(
        "--max-sessions", type=_positive_int, default=4, help="live sessions at once (default 4)"
    )
    parser.add_argument(
        "--pool-size", type=_non_negative_int, default=0, help="pre-started browsers (default 0)"
    )
    parser.add_argument("--chromium", default=None, help="Chromium executable (default: found automatically)")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder for session files (default: a temporary folder removed at exit)",
    )
    parser.add_argument("--no-browser", action="store_true", help="API-only sessions without Chromium")
    parser.add_argument(
        "--connect-deadline",
        type=float,
        default=300.0,
        help="seconds a new session waits for its first CDP client (default 300)",
    )
    parser.add_argument(
        "--creations-per-minute",
        type=_positive_int,
        default=None,
        help="session creations per rolling minute",
    )
    parser.add_argument(
        "--enable-admin", action="store_true", help="serve the /_admin fault-injection endpoints"
    )
    parser.add_argument("--no-demo", action="store_true", help="do not serve the demo shop at /demo")
    parser.add_argument(
        "--cdp-idle-timeout",
        type=float,
        default=600.0,
        help="seconds without a CDP command before a client is disconnected; 0 = never (default 600)",
    )
    parser.add_argument(
        "--release-delay",
        type=_non_negative_float,
        default=0.0,
        help="seconds a released session stays RUNNING before it ends COMPLETED, as Browserbase releases "
        "asynchronously (default 0: at once)",
    )
    parser.add_argument(
        "--adblock-list",
        type=_host_list_file,
        default=None,
        metavar="FILE",
        help="hosts (one a line, subdomains included) that browserSettings.blockAds blocks, instead of the "
        "built-in list",
    )
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return parser


async def _serve(config: LocalConfig, log_level: str, demo: bool = True) -> int:
    # Imported here: importing the app pulls in Airflow (seconds); the SIGTERM handler is already set.
    from airflow_provider_browserbase.local.app import create_app
    from airflow_provider_browserbase.local.chromium import ChromiumNotFoundError
    from airflow_provider_browserbase.local.demo_site import demo_mount
    from airflow_provider_browserbase.local.server import bind_socket, uvicorn_server

    # Importing Airflow installed its own logging on stdout; stdout is for the one ready line only.
    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT, stream=sys.stderr, force=True)
    sock = bind_socket(config.host, config.port)
    config.port = sock.getsockname()[1]
    try:
        app = create_app(config, [demo_mount()] if demo else [])
    except ChromiumNotFoundError as exc:
        sock.close()
        print(f"browserbase-local: {exc}", file=sys.stderr)
        return 2
    # uvicorn installs SIGINT/SIGTERM handlers: both stop the server, whose shutdown ends every session.
    server = uvicorn_server(app, log_level=log_level)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    if server.started:
        _serving["started"] = True
        print(
            f"browserbase-local ready at {config.base_url} "
            f"(api key: {config.api_key}, max sessions {config.max_sessions})",
            flush=True,
        )
    await task
    sock.close()
    return 0 if server.started else 1


_serving = {"started": False}


def _on_stop_signal(signum: int, frame: FrameType | None) -> None:
    # Once uvicorn served, it handled the signal (a clean shutdown) and re-raises it on exit: ignore it.
    if not _serving["started"]:
        raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Until uvicorn takes over the signals, SIGTERM/SIGINT must still run the clean-up below.
    previous = {sig: signal.signal(sig, _on_stop_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    _serving["started"] = False
    own_dir = args.data_dir is None
    data_dir = make_own_data_dir() if own_dir else Path(args.data_dir)
    config = LocalConfig(
        host=args.host,
        port=args.port,
        api_key=args.api_key or default_api_key(),
        max_sessions=args.max_sessions,
        pool_size=args.pool_size,
        chromium=args.chromium,
        data_dir=data_dir,
        no_browser=args.no_browser,
        connect_deadline=args.connect_deadline,
        creations_per_minute=args.creations_per_minute,
        enable_admin=args.enable_admin,
        cdp_idle_timeout=args.cdp_idle_timeout or None,
        release_delay=args.release_delay,
        adblock_list=args.adblock_list,
    )
    try:
        return asyncio.run(_serve(config, args.log_level, demo=not args.no_demo))
    except OSError as exc:
        print(f"browserbase-local: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    finally:
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
