"""Run ``browserbase-local`` in-process, in a background thread, for tests and fixtures."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from airflow_provider_browserbase.local.app import create_app
from airflow_provider_browserbase.local.config import (
    LocalConfig,
    ServerLimits,
    default_api_key,
    make_own_data_dir,
)
from airflow_provider_browserbase.local.demo_site import demo_mount
from airflow_provider_browserbase.local.limits import MAX_HEADER_BYTES, deadline_protocol
from airflow_provider_browserbase.local.network import quiet_uvicorn_websocket_log

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    from fastapi import FastAPI
    from starlette.routing import BaseRoute

log = logging.getLogger(__name__)


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind the listening socket up front, so a port of 0 becomes a known port before the app exists."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY only on such sockets, and without it Nagle plus
    # delayed ACKs add about 40 ms to every HTTP answer.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def uvicorn_server(app: FastAPI, **overrides: Any) -> uvicorn.Server:
    """A uvicorn server for ``app`` bounded by ``app.state.config.limits`` (see :mod:`.limits`)."""
    limits: ServerLimits = app.state.config.limits
    settings: dict[str, Any] = {
        "ws_max_size": limits.max_ws_message_size,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        # No limit_concurrency: it would refuse HTTP requests only; ConnectionLimitMiddleware refuses
        # WebSocket handshakes too, reading the count of the server_state bound below.
        # No permessage-deflate: compressing every CDP answer (a screenshot is megabytes of base64) was
        # 69% of the server's CPU in a screenshot loop (benchmarks/bench_proxy.py, issue 17). Chromium's
        # own DevTools websocket does not compress either, so clients see what a direct connection gives.
        "ws_per_message_deflate": False,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "timeout_graceful_shutdown": 5,
        "log_level": "warning",
        # Access lines would print connect URLs (?signingKey=...) and live-view tokens: secrets.
        "access_log": False,
        "lifespan": "on",
    }
    settings.update(overrides)
    config = uvicorn.Config(app, **settings)
    config.load()
    config.http_protocol_class = deadline_protocol(config.http_protocol_class, limits.header_timeout)
    quiet_uvicorn_websocket_log()  # after uvicorn.Config configured its loggers
    server = uvicorn.Server(config)
    app.state.open_connections.bind(server.server_state)
    return server


class LocalServer:
    """
    A ``browserbase-local`` server running in a background thread with its own event loop.

    ``with LocalServer(port=0) as server:`` starts it, and leaving the block ends every session,
    stops every browser and removes the folders the server made.

    :param host: Interface to bind.
    :param port: Port to bind; 0 picks a free one (see :attr:`base_url`).
    :param api_key: Required ``X-BB-API-Key``; ``$BROWSERBASE_API_KEY`` or the development key if ``None``.
    :param max_sessions: Live sessions allowed at once.
    :param pool_size: Browsers kept pre-started.
    :param chromium: Chromium executable; found automatically if ``None``.
    :param data_dir: Folder for session files; a fresh temporary folder (removed at exit) if ``None``.
    :param no_browser: API-only sessions, without Chromium.
    :param connect_deadline: Seconds a session waits for its first CDP client before it ends.
    :param creations_per_minute: Creation-rate limit; unlimited if ``None``.
    :param timeout_scale: Factor applied to session timeouts (tests use a small one; 1.0 otherwise).
    :param enable_admin: Serve the ``/_admin`` fault-injection endpoints.
    :param cdp_idle_timeout: Seconds without a CDP command before a client is disconnected (``None``: never).
    :param release_delay: Seconds a released session stays RUNNING before it ends COMPLETED (0: at once).
    :param allowed_hosts: Names accepted in the ``Host`` header besides the loopback names and ``host``.
    :param limits: Sizes, counts and timeouts (defaults: :class:`~.config.ServerLimits`).
    :param allow_file_urls: Let clients load ``file:`` URLs (``--allow-file-urls``).
    :param no_sandbox_as_root: Allow browsers as root (``--no-sandbox-as-root``); ``None`` reads
        ``$BROWSERBASE_LOCAL_NO_SANDBOX_AS_ROOT``.
    :param adblock_list: Host list ``blockAds`` blocks instead of the built-in one.
    :param extra_routes: Additional routes or mounts for the app.
    :param demo: Serve the examples' demo shop at ``/demo``.
    :param startup_timeout: Seconds to wait for the server to come up.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        max_sessions: int = 4,
        pool_size: int = 0,
        chromium: str | None = None,
        data_dir: str | Path | None = None,
        no_browser: bool = False,
        connect_deadline: float = 300.0,
        creations_per_minute: int | None = None,
        timeout_scale: float = 1.0,
        enable_admin: bool = False,
        cdp_idle_timeout: float | None = 600.0,
        release_delay: float = 0.0,
        allowed_hosts: Sequence[str] = (),
        limits: ServerLimits | None = None,
        allow_file_urls: bool = False,
        no_sandbox_as_root: bool | None = None,
        adblock_list: str | Path | None = None,
        extra_routes: Sequence[BaseRoute] = (),
        demo: bool = True,
        startup_timeout: float = 30.0,
    ) -> None:
        self._own_data_dir = data_dir is None
        self.config = LocalConfig(
            host=host,
            port=port,
            api_key=api_key or default_api_key(),
            max_sessions=max_sessions,
            pool_size=pool_size,
            chromium=chromium,
            data_dir=Path(data_dir) if data_dir is not None else Path("."),
            no_browser=no_browser,
            connect_deadline=connect_deadline,
            creations_per_minute=creations_per_minute,
            timeout_scale=timeout_scale,
            enable_admin=enable_admin,
            cdp_idle_timeout=cdp_idle_timeout,
            release_delay=release_delay,
            allowed_hosts=tuple(allowed_hosts),
            limits=limits or ServerLimits(),
            allow_file_urls=allow_file_urls,
            adblock_list=Path(adblock_list) if adblock_list is not None else None,
        )
        if no_sandbox_as_root is not None:
            self.config.no_sandbox_as_root = no_sandbox_as_root
        self._extra_routes = [*extra_routes, demo_mount()] if demo else list(extra_routes)
        self._startup_timeout = startup_timeout
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self.app: FastAPI | None = None

    def __repr__(self) -> str:
        return f"LocalServer(base_url={self.base_url!r}, max_sessions={self.config.max_sessions})"

    @property
    def base_url(self) -> str:
        return self.config.base_url

    @property
    def api_key(self) -> str:
        return self.config.api_key

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The server's event loop (for tests that call into the registry)."""
        assert self._loop is not None
        return self._loop

    def start(self) -> LocalServer:
        if self._thread is not None:
            raise RuntimeError("this LocalServer was already started")
        if self._own_data_dir:
            self.config.data_dir = make_own_data_dir()
        sock = bind_socket(self.config.host, self.config.port)
        self.config.port = sock.getsockname()[1]
        try:
            self.app = create_app(self.config, self._extra_routes)
        except Exception:
            sock.close()
            self._remove_data_dir()
            raise
        self._server = uvicorn_server(self.app)
        ready = threading.Event()

        def run() -> None:
            # Chromium is spawned from this thread with PR_SET_PDEATHSIG: it must live as long as the
            # browsers do, which it does (it only returns after the shutdown killed them).
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                assert self._server is not None
                loop.run_until_complete(self._server.serve(sockets=[sock]))
            except BaseException as exc:
                self._error = exc
            finally:
                ready.set()
                loop.close()
                sock.close()

        self._thread = threading.Thread(target=run, name="browserbase-local", daemon=True)
        self._thread.start()
        deadline = self._startup_timeout
        step = 0.02
        while not self._server.started and self._thread.is_alive() and deadline > 0:
            ready.wait(step)
            deadline -= step
        if not self._server.started:
            self.stop()
            raise RuntimeError(f"browserbase-local did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=60)
            if self._thread.is_alive():
                log.warning("browserbase-local did not stop within 60 s")
        self._remove_data_dir()

    def _remove_data_dir(self) -> None:
        if self._own_data_dir and self.config.data_dir != Path("."):
            shutil.rmtree(self.config.data_dir, ignore_errors=True)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
