"""Operator that fetches a page with Browserbase's Fetch API (no browser session) to XCom or a file."""

from __future__ import annotations

import json
import re
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_browserbase._lineage import operator_lineage, path_dataset_id, site_dataset_id
from airflow_provider_browserbase.exceptions import BrowserbaseError
from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_browserbase.models import FetchResult

#: The most content (UTF-8 bytes) the operator returns through XCom; bigger pages need ``destination``.
MAX_XCOM_BYTES = 2**20
_SUFFIXES = {"markdown": ".md", "json": ".json"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_name_for(url: str, format: str, content_type: str) -> str:
    """A file name for ``url``'s content: host and path made safe, and an extension by format."""
    parts = urlsplit(url)
    stem = _UNSAFE.sub("_", f"{parts.hostname or 'page'}{parts.path}".rstrip("/")).strip("_") or "page"
    if parts.query:
        stem += "_" + _UNSAFE.sub("_", parts.query).strip("_")
    suffix = _SUFFIXES.get(format) or (".html" if "html" in content_type else ".txt")
    return stem[:150] + suffix


def content_text(result: FetchResult) -> str:
    """The content as text: a ``json`` fetch's object as JSON."""
    if isinstance(result.content, str):
        return result.content
    return json.dumps(result.content, ensure_ascii=False, indent=2)


class BrowserbaseFetchOperator(BaseOperator):
    """
    Fetch one page with Browserbase's Fetch API (no browser session) and return or save its content.

    With ``destination`` the content is written there (UTF-8; a ``json`` fetch's object as JSON) and the
    task returns ``{"url", "path", "status_code", "content_type"}``. Without it the task returns ``{"url",
    "status_code", "content_type", "content"}`` through XCom (``content``: text, or the extracted object
    for ``json``), refused over ``max_xcom_bytes`` (1 MiB by default) with a
    message to set ``destination``: XCom lives in Airflow's database. A page answered with HTTP status 400
    or more fails the task (nothing is written) unless ``fail_on_http_error=False``.

    With the OpenLineage provider installed, the task reports the fetched page as an input dataset
    (``scheme://host:port`` and path, as the browser operators report the pages they read) and the file
    it wrote, if any, as an output dataset.

    To fetch many pages, map it: ``BrowserbaseFetchOperator.partial(task_id=..., destination="/data/pages/")
    .expand(url=[...])``, or ``.expand(url=search.output.map(lambda r: r["url"]))`` after a
    :class:`~airflow_provider_browserbase.operators.search.BrowserbaseSearchOperator`.

    :param url: the page, ``http`` or ``https`` (templated).
    :param format: ``raw`` (the body as is), ``markdown``, or ``json`` (extracted by ``schema``) (templated).
    :param schema: a JSON Schema, required with ``format="json"`` (templated).
    :param destination: a file, or a folder when it ends with ``/`` (the file is then named after the URL,
        e.g. ``shop.test_products_1.md``), as a local path, an ``ObjectStoragePath`` or a URL such as
        ``s3://bucket/pages/`` (templated); folders are created.
    :param allow_redirects: follow redirects (Browserbase's default when ``None``).
    :param allow_insecure_ssl: skip TLS certificate checks.
    :param proxies: fetch through Browserbase's proxies.
    :param context_id: send the cookies saved in this context (templated).
    :param fail_on_http_error: fail the task when the page's status is 400 or more.
    :param max_xcom_bytes: the most content returned through XCom when there is no ``destination``.
    :param browserbase_conn_id: the Browserbase connection (templated).
    """

    template_fields: Sequence[str] = (
        "url",
        "format",
        "schema",
        "destination",
        "context_id",
        "browserbase_conn_id",
    )
    template_fields_renderers = {"schema": "json"}
    ui_color = "#f4e3ff"

    def __init__(
        self,
        *,
        url: str,
        format: str = "raw",
        schema: dict[str, Any] | None = None,
        destination: str | ObjectStoragePath | None = None,
        allow_redirects: bool | None = None,
        allow_insecure_ssl: bool | None = None,
        proxies: bool | None = None,
        context_id: str | None = None,
        fail_on_http_error: bool = True,
        max_xcom_bytes: int = MAX_XCOM_BYTES,
        browserbase_conn_id: str = BrowserbaseHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.format = format
        self.schema = schema
        self.destination = destination
        self.allow_redirects = allow_redirects
        self.allow_insecure_ssl = allow_insecure_ssl
        self.proxies = proxies
        self.context_id = context_id
        self.fail_on_http_error = fail_on_http_error
        self.max_xcom_bytes = max_xcom_bytes
        self.browserbase_conn_id = browserbase_conn_id
        # For OpenLineage: whether the page was read (the API answered with it), and the file written.
        self._fetched = False
        self._written: ObjectStoragePath | None = None

    @cached_property
    def hook(self) -> BrowserbaseHook:
        return BrowserbaseHook(self.browserbase_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        result = self.hook.fetch(
            self.url,
            format=self.format,
            schema=self.schema or None,
            allow_redirects=self.allow_redirects,
            allow_insecure_ssl=self.allow_insecure_ssl,
            proxies=self.proxies,
            context_id=self.context_id or None,
        )
        self._fetched = True
        self.log.info(
            "Fetched %s: HTTP %d, %s (%s)", self.url, result.status_code, result.content_type, self.format
        )
        if result.status_code >= 400 and self.fail_on_http_error:
            raise BrowserbaseError(
                f"Fetching {self.url} gave HTTP {result.status_code}; set fail_on_http_error=False to keep "
                "error pages"
            )
        text = content_text(result)
        answer: dict[str, Any] = {
            "url": self.url,
            "status_code": result.status_code,
            "content_type": result.content_type,
        }
        if self.destination:
            path = self._write(text, result.content_type)
            self._written = path
            self.log.info("Wrote %d characters to %s", len(text), path)
            return {**answer, "path": str(path)}
        size = len(text.encode())
        if size > self.max_xcom_bytes:
            raise BrowserbaseError(
                f"The content of {self.url} is {size} bytes, more than the {self.max_xcom_bytes} this "
                "operator returns through XCom (stored in Airflow's database): set destination to a file "
                "or folder to save it there"
            )
        return {**answer, "content": result.content}  # a json fetch's object stays an object

    def _target(self, content_type: str) -> ObjectStoragePath:
        from airflow.sdk import ObjectStoragePath

        assert self.destination is not None
        given = str(self.destination)
        path = ObjectStoragePath(self.destination)
        if given.endswith("/") or path.is_dir():
            return path / file_name_for(self.url, self.format, content_type)
        return path

    def _write(self, text: str, content_type: str) -> ObjectStoragePath:
        path = self._target(content_type)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The fetched page as an OpenLineage input dataset, the file written (if any) as an output."""
        return operator_lineage(
            inputs=self._page_read(),
            outputs=[path_dataset_id(self._written)] if self._written is not None else [],
        )

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage:
        """
        The page, when the API answered with it (an HTTP error page fails the task after it was read).

        No outputs: the file is written last, after every check, so a failed task wrote none (a write
        that itself fails part way may leave a partial file, which is not reported).
        """
        return operator_lineage(inputs=self._page_read())

    def _page_read(self) -> list[tuple[str, str]]:
        site = site_dataset_id(self.url) if self._fetched else None
        return [site] if site is not None else []
