"""
``blockAds`` and ``allowedDomains``: which requests a session's browser may make.

Both are enforced with CDP's Fetch domain enabled on the session's own browser-level connection: it sees
the requests of every page, popup, iframe and worker of the browser, from the first request of a new tab,
and only the requests its patterns name are paused (blocked hosts; documents, for ``allowedDomains``).
A refused request fails with ``net::ERR_BLOCKED_BY_CLIENT``, as an ad blocker's would.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

BUILTIN_LIST = "adblock_hosts.txt"


def parse_host_list(text: str) -> frozenset[str]:
    """
    Hosts from a block list: one per line, ``#`` comments; hosts-file lines (``0.0.0.0 host``) work too.

    :raises ValueError: when a line holds something that is not a host name.
    """
    hosts: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        host = words[-1].strip(".").lower()
        if not host or "/" in host or ":" in host or "*" in host:
            raise ValueError(f"line {number}: {line.strip()!r} is not a host name")
        hosts.add(host)
    return frozenset(hosts)


def load_block_list(path: Path | None = None) -> frozenset[str]:
    """The hosts ``blockAds`` blocks: the list in ``path`` (``--adblock-list``) or the built-in one."""
    if path is not None:
        try:
            return parse_host_list(path.read_text())
        except ValueError as exc:
            raise ValueError(f"--adblock-list {path}: {exc}") from None
    text = resources.files("airflow_provider_browserbase.local").joinpath(BUILTIN_LIST).read_text()
    return parse_host_list(text)


def host_in(host: str, domains: frozenset[str]) -> bool:
    """True when ``host`` is one of ``domains`` or a subdomain of one (``a.b.com`` is in ``b.com``)."""
    host = host.strip(".").lower()
    while host:
        if host in domains:
            return True
        if "." not in host:
            return False
        host = host.split(".", 1)[1]
    return False


def normalize_domain(domain: str) -> str:
    """``allowedDomains`` entries are domains; ``*.example.com``, ``.example.com`` mean ``example.com``."""
    domain = domain.strip().lower()
    for prefix in ("*.", "."):
        if domain.startswith(prefix):
            domain = domain[len(prefix) :]
    return domain.strip(".")


@dataclass(frozen=True)
class NetworkPolicy:
    """
    What a session's browser may request.

    :param blocked_hosts: Hosts (and their subdomains) whose requests fail; empty without ``blockAds``.
    :param allowed_domains: Domains (and their subdomains) main-frame navigations may go to; empty = any.
    """

    blocked_hosts: frozenset[str] = frozenset()
    allowed_domains: frozenset[str] = frozenset()

    @property
    def active(self) -> bool:
        return bool(self.blocked_hosts or self.allowed_domains)

    def fetch_patterns(self) -> list[dict[str, Any]]:
        """Fetch patterns that pause exactly the requests this policy may refuse."""
        if self.allowed_domains and self.blocked_hosts:
            # Blocked hosts can be requested by any resource type: everything must be seen.
            return [{"urlPattern": "*", "requestStage": "Request"}]
        if self.allowed_domains:
            return [{"urlPattern": "*", "resourceType": "Document", "requestStage": "Request"}]
        patterns = []
        for host in sorted(self.blocked_hosts):
            # The wildcard may match more than the host (a query string); refuses() checks the real host.
            patterns.append({"urlPattern": f"*://{host}/*", "requestStage": "Request"})
            patterns.append({"urlPattern": f"*://*.{host}/*", "requestStage": "Request"})
            patterns.append({"urlPattern": f"*://{host}:*", "requestStage": "Request"})
            patterns.append({"urlPattern": f"*://*.{host}:*", "requestStage": "Request"})
        return patterns

    def refuses(self, url: str, resource_type: str, main_frame: bool) -> str | None:
        """The reason ``url`` is refused, or ``None`` when it may go."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ws", "wss"):
            return None
        host = parts.hostname or ""
        if self.blocked_hosts and host_in(host, self.blocked_hosts):
            return f"{host} is on the ad block list"
        if (
            self.allowed_domains
            and main_frame
            and resource_type == "Document"
            and not host_in(host, self.allowed_domains)
        ):
            return f"{host} is not in allowedDomains"
        return None
