"""``BrowserbaseFetchOperator`` and ``BrowserbaseSearchOperator`` against ``browserbase-local`` (API only)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_browserbase.exceptions import BrowserbaseError, BrowserbaseValidationError
from airflow_provider_browserbase.operators.fetch import BrowserbaseFetchOperator, file_name_for
from airflow_provider_browserbase.operators.search import BrowserbaseSearchOperator

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from airflow_provider_browserbase.local.server import LocalServer

LAMP_PATH = "/demo/products/BB-1002"


@pytest.fixture
def shop(quick_server: LocalServer, quick_conn: str) -> str:
    return quick_server.base_url + "/demo"


def run(task: Any, make_context: Callable[..., dict[str, Any]], **params: Any) -> Any:
    context = make_context()
    context["params"] = params
    task.render_template_fields(context)
    return task.execute(context)


def test_fetch_to_xcom(shop: str, quick_conn: str, make_context: Callable[..., dict[str, Any]]) -> None:
    task = BrowserbaseFetchOperator(
        task_id="fetch",
        url="{{ params.url }}",
        format="{{ params.format }}",
        browserbase_conn_id="{{ params.conn }}",
    )
    got = run(task, make_context, url=f"{shop}/products/BB-1002", format="markdown", conn=quick_conn)
    assert got["status_code"] == 200
    assert got["content_type"] == "text/markdown"
    assert "# Brass desk lamp" in got["content"]
    assert got["url"] == f"{shop}/products/BB-1002"
    assert "path" not in got
    json.dumps(got)  # an XCom value


def test_fetch_to_a_file_and_to_a_folder(
    shop: str, quick_conn: str, tmp_path: Path, make_context: Callable[..., dict[str, Any]]
) -> None:
    file = tmp_path / "one" / "lamp.html"
    task = BrowserbaseFetchOperator(
        task_id="fetch", url=f"{shop}/products/BB-1002", destination=str(file), browserbase_conn_id=quick_conn
    )
    got = run(task, make_context)
    assert got == {
        "url": f"{shop}/products/BB-1002",
        "path": str(file),
        "status_code": 200,
        "content_type": "text/html",
    }
    assert "<h1>Brass desk lamp</h1>" in file.read_text()

    folder = tmp_path / "pages"
    task = BrowserbaseFetchOperator(
        task_id="fetch",
        url=f"{shop}/products?page=2",
        format="markdown",
        destination=f"{folder}/",
        browserbase_conn_id=quick_conn,
    )
    got = run(task, make_context)
    (written,) = folder.iterdir()
    assert got["path"] == str(written)
    assert written.name == "127.0.0.1_demo_products_page_2.md"
    assert "Products, page 2 of 3" in written.read_text()


def test_http_errors_fail_the_task_unless_kept(
    shop: str, quick_conn: str, tmp_path: Path, make_context: Callable[..., dict[str, Any]]
) -> None:
    url = f"{shop}/products/NOPE"
    task = BrowserbaseFetchOperator(
        task_id="fetch", url=url, destination=str(tmp_path / "x.html"), browserbase_conn_id=quick_conn
    )
    with pytest.raises(BrowserbaseError, match="HTTP 404; set fail_on_http_error=False"):
        run(task, make_context)
    assert not (tmp_path / "x.html").exists()
    task = BrowserbaseFetchOperator(
        task_id="fetch", url=url, fail_on_http_error=False, browserbase_conn_id=quick_conn
    )
    got = run(task, make_context)
    assert got["status_code"] == 404
    assert "No such product" in got["content"]


def test_large_content_is_refused_from_xcom_naming_destination(
    shop: str, quick_conn: str, make_context: Callable[..., dict[str, Any]]
) -> None:
    task = BrowserbaseFetchOperator(
        task_id="fetch", url=f"{shop}/products", max_xcom_bytes=100, browserbase_conn_id=quick_conn
    )
    with pytest.raises(BrowserbaseError, match=r"more than the 100 .* set destination"):
        run(task, make_context)


def test_bad_arguments_fail_before_any_request(
    quick_conn: str, make_context: Callable[..., dict[str, Any]]
) -> None:
    task = BrowserbaseFetchOperator(
        task_id="fetch", url="{{ params.url }}", format="html", browserbase_conn_id=quick_conn
    )
    with pytest.raises(BrowserbaseValidationError, match="format"):
        run(task, make_context, url="ftp://shop")


def test_fetch_is_mappable_over_urls() -> None:
    from airflow.sdk import DAG

    with DAG("fetch_mapped", schedule=None):
        mapped = BrowserbaseFetchOperator.partial(task_id="fetch", format="markdown").expand(
            url=["http://a.test/", "http://b.test/"]
        )
    assert mapped.expand_input.value == {"url": ["http://a.test/", "http://b.test/"]}


def test_file_names() -> None:
    assert (
        file_name_for("https://shop.test/products/BB-1/", "markdown", "text/markdown")
        == "shop.test_products_BB-1.md"
    )
    assert file_name_for("https://shop.test", "raw", "text/html") == "shop.test.html"
    assert file_name_for("https://shop.test/a.csv", "raw", "text/csv") == "shop.test_a.csv.txt"
    assert file_name_for("https://shop.test/x", "json", "application/json") == "shop.test_x.json"


def test_search(shop: str, quick_conn: str, make_context: Callable[..., dict[str, Any]]) -> None:
    task = BrowserbaseSearchOperator(
        task_id="search", query="{{ params.q }}", num_results="{{ params.n }}", browserbase_conn_id=quick_conn
    )
    got = run(task, make_context, q="brass lamp", n=2)
    assert 1 <= len(got) <= 2
    assert got[0]["title"] == "Brass desk lamp"
    assert got[0]["url"] == f"{shop}/products/BB-1002"
    assert set(got[0]) == {"id", "title", "url"}  # optional fields left out when unknown
    json.dumps(got)


def test_search_refuses_a_bad_count(quick_conn: str, make_context: Callable[..., dict[str, Any]]) -> None:
    task = BrowserbaseSearchOperator(
        task_id="search", query="lamp", num_results=30, browserbase_conn_id=quick_conn
    )
    with pytest.raises(BrowserbaseValidationError, match="num_results"):
        run(task, make_context)


def test_templated_fields() -> None:
    assert {"url", "format", "schema", "destination", "context_id", "browserbase_conn_id"} <= set(
        BrowserbaseFetchOperator.template_fields
    )
    assert {"query", "num_results", "browserbase_conn_id"} <= set(BrowserbaseSearchOperator.template_fields)


def test_a_json_fetch_returns_the_object_and_writes_json(
    tmp_path: Path, make_context: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # browserbase-local cannot extract JSON (501): Browserbase's answer is scripted here.
    import httpx
    from support import connection_uri_env

    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

    monkeypatch.setenv("AIRFLOW_CONN_BB_FETCH", connection_uri_env("http://bb.test", "bb_key"))
    answer = {
        "id": "f-1",
        "content": {"name": "Brass desk lamp", "price": 89.5},
        "contentType": "application/json",
        "encoding": "utf-8",
        "headers": {},
        "statusCode": 200,
    }
    sent: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=answer)

    schema = {"type": "object", "properties": {"name": {"type": "string"}, "price": {"type": "number"}}}
    for destination in (None, f"{tmp_path}/"):
        task = BrowserbaseFetchOperator(
            task_id="fetch",
            url="https://shop.test/lamp",
            format="json",
            schema=schema,
            destination=destination,
            browserbase_conn_id="bb_fetch",
        )
        task.__dict__["hook"] = BrowserbaseHook("bb_fetch", transport=httpx.MockTransport(handler))
        got = run(task, make_context)
        if destination is None:
            assert got["content"] == answer["content"]
        else:
            assert json.loads((tmp_path / "shop.test_lamp.json").read_text()) == answer["content"]
            assert got["path"] == str(tmp_path / "shop.test_lamp.json")
    assert sent[0] == {"url": "https://shop.test/lamp", "format": "json", "schema": schema}
