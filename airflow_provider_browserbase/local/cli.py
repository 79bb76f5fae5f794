"""The ``browserbase-local`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import re
import shutil
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_provider_browserbase.local.config import (
    NO_SANDBOX_AS_ROOT_ENV,
    LocalConfig,
    ServerLimits,
    default_api_key,
    make_own_data_dir,
)

if TYPE_CHECKING:
    from types import FrameType

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _positive_int(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _port(text: str) -> int:
    value = _whole_number(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 0 to 65535 (0 picks a free one), got {value}")
    return value


def _seconds(text: str, *, positive: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    low_ok = value > 0 if positive else value >= 0
    if not (low_ok and value < math.inf):  # also refuses nan
        bound = "more than 0" if positive else "0 or more"
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds, {bound}, got {text}")
    return value


def _positive_seconds(text: str) -> float:
    return _seconds(text, positive=True)


_SIZE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}
_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]?)(?:I?B)?\s*$", re.IGNORECASE)


def _size(text: str) -> int:
    """Bytes, optionally with a binary unit: ``1048576``, ``512K``, ``100M``, ``1GiB``."""
    match = _SIZE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size: give bytes, or a number with K, M or G")
    value = int(match.group(1)) * _SIZE_UNITS[match.group(2).upper()]
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1 byte")
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
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default 127.0.0.1); any other than loopback needs your own --api-key",
    )
    parser.add_argument(
        "--port", type=_port, default=8787, help="port to bind; 0 picks a free one (default 8787)"
    )
    parser.add_argument(
        "--api-key",
        default=None,
        help="required X-BB-API-Key (default: $BROWSERBASE_API_KEY, else the public bb_local_dev_key)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests whose Host header names NAME (repeatable; '*' for any); "
        "the loopback names and --host are always accepted",
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
        type=_positive_seconds,
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
        type=_seconds,
        default=600.0,
        help="seconds without a CDP command before a client is disconnected; 0 = never (default 600)",
    )
    parser.add_argument(
        "--release-delay",
        type=_seconds,
        default=0.0,
        help="seconds a released session stays RUNNING before it ends COMPLETED, as Browserbase releases "
        "asynchronously (default 0: at once)",
    )
    parser.add_argument(
        "--allow-file-urls",
        action="store_true",
        help="let CDP clients and the live view load file: URLs, which read this machine's files "
        "(default: refused)",
    )
    parser.add_argument(
        "--no-sandbox-as-root",
        action="store_true",
        default=os.environ.get(NO_SANDBOX_AS_ROOT_ENV) == "1",
        help=f"allow browsers to run as root, without Chromium's sandbox (also ${NO_SANDBOX_AS_ROOT_ENV}=1); "
        "refused by default",
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
    _add_limit_flags(parser.add_argument_group("limits (sizes in bytes, or with K, M, G)"))
    return parser


#: flag, ServerLimits field, type, help; the default comes from ServerLimits.
LIMIT_FLAGS = (
    ("--max-body-size", "max_body_size", _size, "bytes of a JSON request body"),
    ("--max-upload-size", "max_upload_size", _size, "bytes of one session upload"),
    ("--max-extension-size", "max_extension_size", _size, "bytes of an extension zip"),
    ("--max-extension-unpacked", "max_extension_unpacked_size", _size, "bytes an extension unpacks to"),
    ("--max-extension-files", "max_extension_files", _positive_int, "entries of an extension zip"),
    ("--max-ws-message-size", "max_ws_message_size", _size, "bytes of one WebSocket message from a client"),
    (
        "--max-cdp-backlog",
        "max_cdp_backlog",
        _size,
        "bytes of CDP messages waiting for one client; past it that client is closed (it is not reading)",
    ),
    ("--header-timeout", "header_timeout", _positive_seconds, "seconds to send a request's headers"),
    ("--body-timeout", "body_timeout", _positive_seconds, "seconds a request body may pause"),
    (
        "--max-connections",
        "max_connections",
        _positive_int,
        "open connections at once, HTTP and WebSocket (then 503)",
    ),
    ("--max-contexts", "max_contexts", _positive_int, "contexts kept at once (then 429)"),
    ("--max-extensions", "max_extensions", _positive_int, "extensions kept at once (then 429)"),
    (
        "--ended-retention",
        "ended_retention",
        _positive_seconds,
        "seconds an ended session keeps its logs and downloads",
    ),
    ("--max-ended-sessions", "max_ended_sessions", _positive_int, "ended sessions remembered at all"),
)


def _add_limit_flags(group: argparse._ArgumentGroup) -> None:
    defaults = ServerLimits()
    for flag, name, kind, text in LIMIT_FLAGS:
        default = getattr(defaults, name)
        shown = _describe_default(default) if kind is _size else f"{default:g}"
        metavar = "BYTES" if kind is _size else "SECONDS" if kind is _positive_seconds else "N"
        group.add_argument(
            flag, dest=name, type=kind, default=default, metavar=metavar, help=f"{text} (default {shown})"
        )


def _describe_default(size: int) -> str:
    for unit, factor in (("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


async def _serve(config: LocalConfig, log_level: str, demo: bool = True) -> int:
    # Imported here: importing the app pulls in Airflow (seconds); the SIGTERM handler is already set.
    from airflow_provider_browserbase.local.app import create_app
    from airflow_provider_browserbase.local.chromium import ChromiumNotFoundError, RunningAsRootError
    from airflow_provider_browserbase.local.demo_site import demo_mount
    from airflow_provider_browserbase.local.server import bind_socket, uvicorn_server

    # Importing Airflow installed its own logging on stdout; stdout is for the one ready line only.
    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT, stream=sys.stderr, force=True)
    sock = bind_socket(config.host, config.port)
    config.port = sock.getsockname()[1]
    try:
        app = create_app(config, [demo_mount()] if demo else [])
    except (ChromiumNotFoundError, RunningAsRootError) as exc:
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
        # Never the key itself: this line ends up in CI logs and terminals shared on screen.
        key = "the default development key" if config.uses_default_key else "your own"
        print(
            f"browserbase-local ready at {config.base_url} "
            f"(api key: {key}, max sessions {config.max_sessions})",
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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        limits = ServerLimits(**{name: getattr(args, name) for _, name, _, _ in LIMIT_FLAGS})
        config = LocalConfig(
            host=args.host,
            port=args.port,
            api_key=args.api_key or default_api_key(),
            max_sessions=args.max_sessions,
            pool_size=args.pool_size,
            chromium=args.chromium,
            no_browser=args.no_browser,
            connect_deadline=args.connect_deadline,
            creations_per_minute=args.creations_per_minute,
            enable_admin=args.enable_admin,
            cdp_idle_timeout=args.cdp_idle_timeout or None,
            release_delay=args.release_delay,
            allowed_hosts=tuple(args.allowed_host),
            limits=limits,
            allow_file_urls=args.allow_file_urls,
            no_sandbox_as_root=args.no_sandbox_as_root,
            adblock_list=args.adblock_list,
        )
    except ValueError as exc:
        parser.error(str(exc))  # exits 2 with the usage line, as a bad flag does
    # Until uvicorn takes over the signals, SIGTERM/SIGINT must still run the clean-up below.
    previous = {sig: signal.signal(sig, _on_stop_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    _serving["started"] = False
    own_dir = args.data_dir is None
    data_dir = make_own_data_dir() if own_dir else Path(args.data_dir)
    config.data_dir = data_dir
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
