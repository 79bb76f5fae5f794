"""Arguments of ``BrowserbaseToolset`` that cannot work fail when the DAG is parsed, naming the field."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"allowed_url_prefixes": []}, "allowed_url_prefixes: must name at least one URL prefix"),
        ({"allowed_url_prefixes": ["shop.example.com"]}, "must be an http:// or https:// URL"),
        ({"max_tool_calls": 0}, "max_tool_calls: must be a positive integer"),
        ({"max_text_chars": -1}, "max_text_chars: must be a positive integer"),
        ({"secrets": ["a"]}, "secrets: must be a dict"),
    ],
)
def test_bad_arguments_fail_naming_the_field(kwargs: dict[str, Any], message: str) -> None:
    from airflow_provider_browserbase.ai import BrowserbaseToolset

    with pytest.raises(ValueError, match=message):
        BrowserbaseToolset(**kwargs)


def test_templated_prefixes_are_checked_when_the_task_runs_not_at_parse_time() -> None:
    from airflow_provider_browserbase.ai import BrowserbaseToolset

    toolset = BrowserbaseToolset(allowed_url_prefixes=["{{ params.shop_url }}"])
    assert "allowed_url_prefixes" in toolset.agent_template_fields
    assert toolset.replayable is False
