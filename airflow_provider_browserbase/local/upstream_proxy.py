"""
``proxies``: a session's own forwarding proxy, between its Chromium and the proxies the session names.

Chromium cannot take proxy credentials on its command line, and routing by ``domainPattern`` is not
something it can do either. So a session with an external proxy gets a small HTTP proxy in this process,
bound to 127.0.0.1 on a port of its own; Chromium is launched with ``--proxy-server`` pointing at it and
``--proxy-bypass-list=<-loopback>`` (otherwise Chromium sends loopback addresses direct). For each
CONNECT or plain HTTP request it picks the first route whose ``domainPattern`` matches the host and
forwards through that upstream proxy (adding ``Proxy-Authorization``) or directly.

Who may use it, chosen: only the session's own Chromium. A proxy URL cannot carry credentials for
Chromium, so instead each new connection's peer socket is looked up in ``/proc``: it must belong to a
process in the browser's process group (Chromium is started in a session of its own). Anyone else gets
403. The bytes exchanged with upstream proxies are counted: that is the session's ``proxyBytes``.
Passwords live only in the prebuilt ``Proxy-Authorization`` value, which is never logged.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

HEAD_LIMIT = 64 * 1024
CONNECT_TIMEOUT = 15.0
CHUNK = 64 * 1024


class ProxyConfigError(ValueError):
    """Raised for a proxy entry browserbase-local cannot use; the message names the entry and the rule."""


@dataclass(frozen=True)
class ProxyRoute:
    """
    One entry of ``proxies``: where the hosts matching ``pattern`` go.

    :param pattern: ``domainPattern`` compiled, or ``None`` for every host.
    :param upstream: (host, port) of the external proxy, or ``None`` for a direct connection.
    :param authorization: ``Proxy-Authorization`` value for the upstream proxy (a secret).
    :param label: How logs name the route (never with credentials).
    """

    pattern: re.Pattern[str] | None
    upstream: tuple[str, int] | None
    authorization: str | None = field(default=None, repr=False)
    label: str = "direct"

    def matches(self, host: str) -> bool:
        return self.pattern is None or self.pattern.fullmatch(host) is not None


def compile_domain_pattern(pattern: str | None, where: str) -> re.Pattern[str] | None:
    """
    ``domainPattern``, chosen: a regular expression matched against the whole host name, without port,
    case-insensitively (``.*\\.example\\.com`` for subdomains; ``localhost`` for exactly that host).
    """
    if pattern is None:
        return None
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ProxyConfigError(f"{where}.domainPattern is not a valid regular expression: {exc}") from None


def external_route(
    server: str, username: str | None, password: str | None, pattern: str | None, where: str
) -> ProxyRoute:
    """A route through the external proxy ``server`` (``http://host:port`` or ``host:port``)."""
    text = server if "://" in server else f"http://{server}"
    try:
        parts = urlsplit(text)
    except ValueError:
        raise ProxyConfigError(f"{where}.server must be host:port or http://host:port") from None
    if parts.scheme != "http":
        raise ProxyConfigError(
            f"{where}.server: browserbase-local forwards to http:// proxies only, got {parts.scheme}://"
        )
    try:
        port = parts.port or 80
    except ValueError:
        raise ProxyConfigError(f"{where}.server has an invalid port") from None
    if not parts.hostname:
        raise ProxyConfigError(f"{where}.server must be host:port or http://host:port")
    if parts.username or parts.password:
        raise ProxyConfigError(f"{where}.server must not carry credentials: use username and password")
    authorization = None
    if username is not None or password is not None:
        token = base64.b64encode(f"{username or ''}:{password or ''}".encode()).decode()
        authorization = f"Basic {token}"
    return ProxyRoute(
        pattern=compile_domain_pattern(pattern, where),
        upstream=(parts.hostname, port),
        authorization=authorization,
        label=f"proxy {parts.hostname}:{port}",
    )


def direct_route(pattern: str | None, where: str) -> ProxyRoute:
    return ProxyRoute(pattern=compile_domain_pattern(pattern, where), upstream=None)


def _proc_net_tcp_inode(peer_port: int, our_port: int) -> int | None:
    # /proc/net/tcp lists 127.0.0.1:port as 0100007F:PPPP (little-endian address, hex port).
    local = f"0100007F:{peer_port:04X}"
    remote = f"0100007F:{our_port:04X}"
    with contextlib.suppress(OSError), open("/proc/net/tcp") as table:
        next(table, None)
        for line in table:
            fields = line.split()
            if len(fields) > 9 and fields[1] == local and fields[2] == remote:
                return int(fields[9])
    return None


def _process_group(pid: int) -> int | None:
    with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[2])
    return None


def _group_pids(pgid: int) -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit() and _process_group(int(name)) == pgid]


def _holds(pid: int, wanted: str) -> bool:
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                    return True
    return False


def peer_in_process_group(peer_port: int, our_port: int, pgid: int, known: set[int] | None = None) -> bool:
    """
    True when the loopback socket from ``peer_port`` to ``our_port`` is open in process group ``pgid``.

    :param known: Pids of the group that held such sockets before (Chromium's network process): looked
        at first, and the finder is added, so most checks read one process's descriptors.
    """
    inode = _proc_net_tcp_inode(peer_port, our_port)
    if inode is None:
        return False
    wanted = f"socket:[{inode}]"
    known = known if known is not None else set()
    still = [pid for pid in known if _process_group(pid) == pgid]  # a pid may have been reused
    for pid in [*still, *(p for p in _group_pids(pgid) if p not in still)]:
        if _holds(pid, wanted):
            known.add(pid)
            return True
    return False


def _split_host_port(authority: str, default_port: int) -> tuple[str, int]:
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
    return host, int(port) if port else default_port


class SessionProxy:
    """
    The forwarding proxy of one session.

    :param routes: ``proxies`` entries in order; the first whose pattern matches wins, none = direct.
    :param session_label: How logs name the session.
    """

    def __init__(self, routes: tuple[ProxyRoute, ...], session_label: str = "") -> None:
        self.routes = routes
        self.session_label = session_label
        self.bytes_through_proxies = 0
        self.port = 0
        # Set once Chromium is launched: the process group whose sockets may use this proxy.
        self.owner_pgid: Callable[[], int | None] = lambda: None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._owner_pids: set[int] = set()

    @property
    def launch_args(self) -> tuple[str, ...]:
        return (f"--proxy-server=http://127.0.0.1:{self.port}", "--proxy-bypass-list=<-loopback>")

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=HEAD_LIMIT)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    def route_for(self, host: str) -> ProxyRoute:
        for route in self.routes:
            if route.matches(host):
                return route
        return ProxyRoute(pattern=None, upstream=None)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handle(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            log.debug("Session %s: a proxied connection ended: %s", self.session_label, exc)
        except asyncio.CancelledError:
            # close() cancels open connections; asyncio's server logs a cancelled handler as an error.
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _allowed(self, writer: asyncio.StreamWriter) -> bool:
        pgid = self.owner_pgid()
        peer = writer.get_extra_info("peername")
        if pgid is None or not peer:
            return False
        return await asyncio.to_thread(peer_in_process_group, peer[1], self.port, pgid, self._owner_pids)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if not await self._allowed(writer):
            log.warning(
                "Session %s: refused a proxy client that is not the session's browser", self.session_label
            )
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            return
        request_line, _, header_block = head.decode("latin-1").partition("\r\n")
        method, target, version = request_line.split(" ", 2)
        headers = [line for line in header_block.split("\r\n") if line]
        if method.upper() == "CONNECT":
            host, port = _split_host_port(target, 443)
            await self._connect(reader, writer, host, port, target)
        else:
            await self._forward(reader, writer, method, target, version, headers)

    async def _open(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(asyncio.open_connection(host, port, limit=HEAD_LIMIT), CONNECT_TIMEOUT)

    async def _connect(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int, target: str
    ) -> None:
        route = self.route_for(host)
        try:
            if route.upstream is None:
                up_reader, up_writer = await self._open(host, port)
            else:
                up_reader, up_writer = await self._open(*route.upstream)
                lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
                if route.authorization:
                    lines.append(f"Proxy-Authorization: {route.authorization}")
                sent = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
                up_writer.write(sent)
                await up_writer.drain()
                answer = await up_reader.readuntil(b"\r\n\r\n")
                self.bytes_through_proxies += len(sent) + len(answer)
                status = answer.split(b" ", 2)[1:2]
                if status != [b"200"]:
                    code = status[0].decode("latin-1") if status else "?"
                    self._upstream_refused(route, code, target)
                    up_writer.close()
                    await self._bad_gateway(writer, f"upstream {route.label} answered {code}")
                    return
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            self._unreachable(route, target, exc)
            await self._bad_gateway(writer, f"cannot reach {route.label}")
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await self._pipe(reader, writer, up_reader, up_writer, counted=route.upstream is not None)

    async def _forward(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        method: str,
        target: str,
        version: str,
        headers: list[str],
    ) -> None:
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            await self._bad_gateway(writer, "only absolute http:// URLs are proxied")
            return
        host, port = parts.hostname, parts.port or 80
        route = self.route_for(host)
        # One request per connection: Chromium may reuse a proxy connection for another host, which could
        # need another route. "Connection: close" both ways makes it open a new connection instead.
        kept = [
            h
            for h in headers
            if h.split(":", 1)[0].strip().lower()
            not in ("proxy-connection", "proxy-authorization", "connection", "keep-alive")
        ]
        kept.append("Connection: close")
        if route.upstream is None:
            path = parts.path or "/"
            if parts.query:
                path += f"?{parts.query}"
            first = f"{method} {path} {version}"
        else:
            first = f"{method} {target} {version}"
            if route.authorization:
                kept.append(f"Proxy-Authorization: {route.authorization}")
        try:
            up_reader, up_writer = await self._open(*(route.upstream or (host, port)))
        except (TimeoutError, OSError) as exc:
            self._unreachable(route, host, exc)
            await self._bad_gateway(writer, f"cannot reach {route.label}")
            return
        sent = ("\r\n".join([first, *kept]) + "\r\n\r\n").encode("latin-1")
        up_writer.write(sent)
        await up_writer.drain()
        counted = route.upstream is not None
        if counted:
            self.bytes_through_proxies += len(sent)
        # The request's body (a form's POST) goes on while the answer is awaited: a server answers only once
        # it has read the body, so waiting for its answer first would wait forever.
        request_body = asyncio.ensure_future(self._copy(reader, up_writer, counted=counted))
        try:
            try:
                answer = await up_reader.readuntil(b"\r\n\r\n")
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                await self._bad_gateway(writer, f"no answer from {route.label}: {type(exc).__name__}")
                return
            if counted:
                self.bytes_through_proxies += len(answer)
                code = answer.split(b" ", 2)[1:2]
                if code == [b"407"]:
                    # Not passed on: Chromium would answer a 407 with credentials of its own, or none.
                    self._upstream_refused(route, "407", host)
                    await self._bad_gateway(writer, f"upstream {route.label} answered 407")
                    return
            writer.write(self._close_after(answer))
            await writer.drain()
            await asyncio.gather(request_body, self._copy(up_reader, writer, counted=counted))
        finally:
            request_body.cancel()
            await asyncio.gather(request_body, return_exceptions=True)
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()

    @staticmethod
    def _close_after(head: bytes) -> bytes:
        lines = head.decode("latin-1").split("\r\n")
        kept = [
            line
            for line in lines[1:]
            if line and line.split(":", 1)[0].strip().lower() not in ("connection", "keep-alive")
        ]
        return ("\r\n".join([lines[0], *kept, "Connection: close"]) + "\r\n\r\n").encode("latin-1")

    def _unreachable(self, route: ProxyRoute, target: str, exc: BaseException) -> None:
        # A site that cannot be reached directly is the web's business (Chromium's own update checks
        # fail so offline); an unreachable upstream proxy is a configuration problem worth a warning.
        level = logging.DEBUG if route.upstream is None else logging.WARNING
        log.log(level, "Session %s: cannot reach %s for %s: %s", self.session_label, route.label, target, exc)

    def _upstream_refused(self, route: ProxyRoute, code: str, target: str) -> None:
        hint = " (check its username and password)" if code == "407" else ""
        log.warning(
            "Session %s: %s answered %s for %s%s", self.session_label, route.label, code, target, hint
        )

    @staticmethod
    async def _bad_gateway(writer: asyncio.StreamWriter, why: str) -> None:
        body = f"browserbase-local: {why}\n".encode()
        writer.write(
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(OSError):
            await writer.drain()

    async def _copy(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, counted: bool) -> None:
        """Copy until ``src`` ends, then half-close ``dst``; count the bytes through an upstream proxy."""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                data = await src.read(CHUNK)
                if not data:
                    break
                if counted:
                    self.bytes_through_proxies += len(data)
                dst.write(data)
                await dst.drain()
        with contextlib.suppress(OSError):
            if dst.can_write_eof():
                dst.write_eof()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        *,
        counted: bool,
    ) -> None:
        try:
            await asyncio.gather(
                self._copy(reader, up_writer, counted=counted), self._copy(up_reader, writer, counted=counted)
            )
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()
