"""
Servers the session-settings tests start on loopback: a small site, an HTTPS site with a self-signed
certificate, and an authenticating HTTP forward proxy that records what passed through it.
"""

from __future__ import annotations

import base64
import datetime as dt
import select
import socket
import socketserver
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

PAGE = """<!doctype html><html><head><meta name="viewport" content="width=device-width">
<title>{title}</title></head><body><h1 id="title">{title}</h1>{body}</body></html>"""
AD_URLS = (
    "http://doubleclick.net/ad.js",
    "http://ads.doubleclick.net/x.js",
    "http://googlesyndication.com/p.png",
)


class _SiteHandler(BaseHTTPRequestHandler):
    routes: dict[str, Callable[[dict[str, list[str]]], str]] = {}

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/headers":
            body = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
            self._send(200, body, "text/plain")
        elif parts.path == "/pixel.png":
            self._send(200, "", "image/png")
        elif parts.path == "/ads":
            tags = "".join(f'<script src="{u}"></script>' for u in AD_URLS if u.endswith(".js"))
            tags += "".join(f'<img src="{u}">' for u in AD_URLS if u.endswith(".png"))
            tags += '<img id="own" src="/pixel.png">'
            extra = query.get("also", [""])[0]
            if extra:
                tags += f'<img id="extra" src="{extra}">'
            self._send(200, PAGE.format(title="ads", body=tags))
        elif parts.path == "/colour":
            # A page filled with one colour (``?rgb=0,200,0``), for tests that read what a viewer shows.
            rgb = ",".join(str(int(c)) for c in query.get("rgb", ["255,255,255"])[0].split(",")[:3])
            body = f"<style>html,body{{margin:0;height:100%;background:rgb({rgb})}}</style>"
            self._send(200, PAGE.format(title=f"rgb({rgb})", body=body))
        elif parts.path == "/frame":
            src = query.get("src", [""])[0]
            img = query.get("img", [""])[0]
            body = f'<iframe id="inner" src="{src}"></iframe><img id="pic" src="{img}">'
            self._send(200, PAGE.format(title="frame", body=body))
        else:
            self._send(200, PAGE.format(title=query.get("title", ["site"])[0], body=""))

    def do_POST(self) -> None:
        """Answer only once the whole body is read, as a form handler does: the length it read."""
        received = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._send(200, str(len(received)), "text/plain")

    def _send(self, status: int, body: str, kind: str = "text/html") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Site:
    """A plain HTTP (or, with ``certificate``, HTTPS) site on 127.0.0.1; ``localhost`` reaches it too."""

    def __init__(self, certificate: tuple[Path, Path] | None = None) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _SiteHandler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def __enter__(self) -> Site:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 that no browser trusts; returns (cert, key) files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class _ProxyHandler(socketserver.BaseRequestHandler):
    server: ForwardProxy._Server

    def handle(self) -> None:
        conn: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                return
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        proxy = self.server.owner
        authorized = headers.get("proxy-authorization") == proxy.expected_auth
        proxy.record(method, target, authorized)
        if not authorized:
            conn.sendall(
                b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="t"\r\n'
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)), timeout=10)
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            parts = urlsplit(target)
            upstream = socket.create_connection((parts.hostname, parts.port or 80), timeout=10)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            kept = [line for line in lines[1:] if not line.lower().startswith("proxy-")]
            request = "\r\n".join([f"{method} {path} HTTP/1.1", *kept]) + "\r\n\r\n"
            upstream.sendall(request.encode("latin-1"))
        if rest:
            upstream.sendall(rest)
        _relay(conn, upstream)


def _relay(a: socket.socket, b: socket.socket) -> None:
    try:
        while True:
            ready, _, _ = select.select([a, b], [], [], 30)
            if not ready:
                return
            for src in ready:
                data = src.recv(65536)
                if not data:
                    return
                (b if src is a else a).sendall(data)
    except OSError:
        return
    finally:
        b.close()


class ForwardProxy:
    """An HTTP forward proxy on 127.0.0.1 that wants Basic credentials and records every request."""

    class _Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True
        owner: ForwardProxy

    def __init__(self, username: str, password: str) -> None:
        self.expected_auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.seen: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()
        self.server = self._Server(("127.0.0.1", 0), _ProxyHandler)
        self.server.owner = self
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self, method: str, target: str, authorized: bool) -> None:
        with self._lock:
            self.seen.append((method, target, authorized))

    def targets(self) -> list[str]:
        with self._lock:
            return [target for _, target, ok in self.seen if ok]

    def __enter__(self) -> ForwardProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def failures(page: Any) -> dict[str, str]:
    """Collect ``{url: error text}`` of the page's failed requests from now on."""
    failed: dict[str, str] = {}
    page.on("requestfailed", lambda request: failed.__setitem__(request.url, request.failure or ""))
    return failed
