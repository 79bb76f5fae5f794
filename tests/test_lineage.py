"""The OpenLineage datasets: how a page URL and a written path are named, and what a task reports."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_browserbase._lineage import (
    SiteRecorder,
    operator_lineage,
    path_dataset_id,
    site_dataset_id,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a/b?token=secret#top", ("https://example.com:443", "/a/b")),
        ("http://Example.COM", ("http://example.com:80", "/")),
        ("http://user:pw@127.0.0.1:8080/demo/", ("http://127.0.0.1:8080", "/demo/")),
        ("https://[::1]:9443/x", ("https://[::1]:9443", "/x")),
        ("about:blank", None),
        ("data:text/html,<p>hi</p>", None),
        ("chrome-error://chromewebdata/", None),
        ("file:///etc/passwd", None),
        ("http://host:notaport/", None),
    ],
)
def test_a_page_url_names_its_site_and_path_only(url: str, expected: tuple[str, str] | None) -> None:
    assert site_dataset_id(url) == expected


def frame(url: str, *, main: bool = True) -> Any:
    return SimpleNamespace(url=url, parent_frame=None if main else object())


def test_main_frame_navigations_are_recorded_once_each_in_order() -> None:
    recorder = SiteRecorder()
    for event in (
        frame("http://a.test/1"),
        frame("http://ads.test/banner", main=False),
        frame("about:blank"),
        frame("http://a.test/1?page=2"),
        frame("http://b.test:8080/2"),
        frame("http://a.test/1"),
    ):
        recorder._on_frame_navigated(event)
    assert recorder.sites == [("http://a.test:80", "/1"), ("http://b.test:8080", "/2")]


def test_the_number_of_sites_is_capped() -> None:
    recorder = SiteRecorder(max_sites=3)
    for i in range(10):
        recorder.record(f"https://example.com/{i}")
    assert [name for _, name in recorder.sites] == ["/0", "/1", "/2"]
    assert recorder.dropped == 7


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("file:///data/out/a.pdf", ("file", "data/out/a.pdf")),
        ("/data/out/a.pdf", ("file", "data/out/a.pdf")),
        ("s3://bucket/prefix/a.pdf", ("s3://bucket", "prefix/a.pdf")),
    ],
)
def test_a_written_path_names_its_storage_and_key(path: str, expected: tuple[str, str]) -> None:
    from airflow.sdk import ObjectStoragePath

    assert path_dataset_id(ObjectStoragePath(path)) == expected


def test_the_lineage_is_the_openlineage_providers_type() -> None:
    from airflow.providers.openlineage.extractors import OperatorLineage

    lineage = operator_lineage(inputs=[("https://example.com:443", "/a")], outputs=[("file", "out/a.pdf")])
    assert isinstance(lineage, OperatorLineage)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("https://example.com:443", "/a")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("file", "out/a.pdf")]
