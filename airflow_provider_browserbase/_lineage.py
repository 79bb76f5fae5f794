"""
OpenLineage datasets for Browserbase tasks: the sites a browser read, the files a task wrote.

Nothing here imports OpenLineage at module level. The operators' ``get_openlineage_facets_on_*`` methods
are called only by ``apache-airflow-providers-openlineage`` (the ``[openlineage]`` extra), and only then
build the facets, so a DAG file and a worker without that provider import none of it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Iterable

    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

#: The most sites one task reports. A crawler may visit thousands of pages; a lineage event that lists
#: them all is too large for most backends and says less than the first hundred. Later sites are counted
#: and the count is logged once.
MAX_SITES = 100

_DEFAULT_PORTS = {"http": 80, "https": 443}


def site_dataset_id(url: str) -> tuple[str, str] | None:
    """
    The dataset a page URL names: ``("scheme://host:port", "/path")``, or ``None`` for a non-web URL.

    The port is always written (the scheme's default when the URL has none), so one site is one namespace
    however its links spell it. The query, the fragment and any ``user:password@`` are left out: they
    name no other dataset and may carry credentials or tokens. ``about:``, ``data:``, ``blob:``,
    ``chrome-error:`` and other non-HTTP pages are not sites and are not reported.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:  # an IPv6 address, bracketed again as in a URL
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS[scheme]}", parts.path or "/"


class SiteRecorder:
    """
    Collect the main-frame URLs a task's pages navigate to, de-duplicated, in order, capped.

    Fed by Playwright's ``framenavigated`` events; only a page's main frame counts (an ad or a tracker in
    an iframe is not a site the task read). Recording costs a URL parse per navigation, with no call to
    the browser.

    :param max_sites: the most sites to keep.
    """

    def __init__(self, max_sites: int = MAX_SITES) -> None:
        self.max_sites = max_sites
        self._sites: dict[tuple[str, str], None] = {}
        self.dropped = 0

    @property
    def sites(self) -> list[tuple[str, str]]:
        """The recorded ``(namespace, name)`` pairs, first visit first."""
        return list(self._sites)

    def record(self, url: str) -> None:
        """Record one main-frame URL."""
        site = site_dataset_id(url)
        if site is None or site in self._sites:
            return
        if len(self._sites) >= self.max_sites:
            if not self.dropped:
                log.info(
                    "Reporting the first %d sites to OpenLineage; later ones are left out", self.max_sites
                )
            self.dropped += 1
            return
        self._sites[site] = None

    def watch_context(self, context: Any) -> None:
        """Record the navigations of every page of a Playwright ``BrowserContext``, present and future."""
        for page in context.pages:
            self.watch_page(page)
        context.on("page", self.watch_page)

    def watch_page(self, page: Any) -> None:
        """Record the navigations of one Playwright ``Page``'s main frame."""
        page.on("framenavigated", self._on_frame_navigated)

    def _on_frame_navigated(self, frame: Any) -> None:
        # parent_frame and url are read from Playwright's local state: no round trip to the browser.
        if frame.parent_frame is None:
            self.record(frame.url)


def path_dataset_id(path: ObjectStoragePath) -> tuple[str, str]:
    """
    The dataset an ``ObjectStoragePath`` names, as Airflow's common-io provider reports its transfers.

    ``s3://bucket/prefix/a.pdf`` is ``("s3://bucket", "prefix/a.pdf")``; a local ``/data/a.pdf`` is
    ``("file", "data/a.pdf")``, whether it was given as ``/data`` or ``file:///data`` (a path without a
    scheme has no protocol, and its namespace would be empty).
    """
    return path.namespace or "file", path.key


def operator_lineage(
    *, inputs: Iterable[tuple[str, str]] = (), outputs: Iterable[tuple[str, str]] = ()
) -> OperatorLineage:
    """Build the ``OperatorLineage`` the OpenLineage provider expects (imported only now)."""
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(
        inputs=[Dataset(namespace=namespace, name=name) for namespace, name in inputs],
        outputs=[Dataset(namespace=namespace, name=name) for namespace, name in outputs],
    )
