"""``demo_shop_url``: the example DAGs find the demo shop through the connection, wherever it runs."""

from __future__ import annotations

import json

import pytest

from airflow_provider_browserbase.demo_shop import demo_shop_url


@pytest.mark.parametrize(
    ("conn", "path", "expected"),
    [
        ({"host": "http://127.0.0.1:41234"}, "", "http://127.0.0.1:41234/demo"),
        ({"host": "http://127.0.0.1:41234/"}, "/", "http://127.0.0.1:41234/demo/"),
        ({"host": "localhost", "port": 9000}, "/products", "http://localhost:9000/demo/products"),
        (
            {"host": "https://bb.internal.example:8443"},
            "/login",
            "https://bb.internal.example:8443/demo/login",
        ),
    ],
)
def test_the_demo_shop_is_next_to_the_api_the_connection_names(
    monkeypatch: pytest.MonkeyPatch, conn: dict[str, object], path: str, expected: str
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BB_SOMEWHERE", json.dumps({"conn_type": "browserbase", **conn}))
    assert demo_shop_url(path, conn_id="bb_somewhere") == expected


@pytest.mark.parametrize("host", [None, "https://api.browserbase.com"])
def test_browserbase_itself_has_no_demo_shop(monkeypatch: pytest.MonkeyPatch, host: str | None) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_BB_CLOUD", json.dumps({"conn_type": "browserbase", "host": host, "password": "k"})
    )
    with pytest.raises(ValueError, match=r"'bb_cloud' points at Browserbase .* pass the URL"):
        demo_shop_url(conn_id="bb_cloud")
