"""What the hook reads from a ``browserbase`` connection, and the base-URL rules (the form is in
``connection_form``)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_provider_browserbase.hooks.connection_form import DEFAULT_BASE_URL

DASHBOARD_URL = "https://www.browserbase.com"

PROJECT_ID_EXTRA_KEYS = ("project_id", "extra__browserbase__project_id")


def _is_loopback(hostname: str) -> bool:
    name = hostname.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class CredentialsInHostError(ValueError):
    """The connection's host carries a user name or password (``http://user:pw@host``)."""


CREDENTIALS_IN_HOST_RULE = (
    "the host (API base URL) must not contain a user name or password ('user:password@'): the API key "
    "belongs in the password field ('API Key'), and a URL with credentials would be shown in logs, links "
    "and messages"
)


def resolve_base_url(host: str | None, port: int | None = None) -> str:
    """
    The API base URL for a connection ``host`` (and ``port``, when the host names none).

    Empty means the Browserbase cloud API. A host without a scheme gets ``http://`` when it is a loopback
    address or ``localhost`` (the local server) and ``https://`` otherwise. A trailing slash is dropped.

    A host with credentials (``http://alice:pw@host``) is refused rather than cleaned: the base URL appears
    in the session link, the connection test's message and error texts, and Browserbase authenticates with
    the API key header only, so credentials there are a mistake (or a secret about to leak), never needed.

    :raises CredentialsInHostError: naming the rule, never repeating the host (it holds the secret).
    """
    text = (host or "").strip()
    if not text:
        return DEFAULT_BASE_URL
    if "://" not in text:
        hostname = urlsplit(f"//{text}").hostname or text
        text = f"{'http' if _is_loopback(hostname) else 'https'}://{text}"
    parts = urlsplit(text)
    if "@" in parts.netloc:
        raise CredentialsInHostError(CREDENTIALS_IN_HOST_RULE)
    if port and parts.port is None and parts.hostname:
        text = parts._replace(netloc=f"{parts.netloc}:{port}").geturl()
    return text.rstrip("/")


def is_browserbase_cloud(base_url: str) -> bool:
    """Whether ``base_url`` is Browserbase's own API (not a local or other compatible server)."""
    hostname = (urlsplit(base_url).hostname or "").lower()
    return hostname == "browserbase.com" or hostname.endswith(".browserbase.com")


def session_url_for(base_url: str, session_id: str) -> str:
    """
    A page a person can open for the session.

    The Browserbase dashboard for the cloud API; the server's own live-view page otherwise
    (``browserbase-local`` serves ``/sessions/<id>/live``).
    """
    encoded = quote(session_id, safe="")
    if is_browserbase_cloud(base_url):
        return f"{DASHBOARD_URL}/sessions/{encoded}"
    return f"{base_url.rstrip('/')}/sessions/{encoded}/live"


def project_id_from_extra(extra: dict[str, Any]) -> str | None:
    for key in PROJECT_ID_EXTRA_KEYS:
        value = extra.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


@dataclass(frozen=True)
class ConnectionSettings:
    """
    What the hook takes from an Airflow connection.

    :param conn_id: the connection id, for messages.
    :param base_url: API base URL without trailing slash.
    :param api_key: the API key (never shown in a repr).
    :param project_id: default project, if the connection names one.
    """

    conn_id: str
    base_url: str
    api_key: str = field(repr=False)
    project_id: str | None = None
