"""Playwright's node driver starts with V8's compile cache in the user's cache folder, never otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_browserbase.operators._playwright_session import node_compile_cache


def test_the_cache_is_on_only_while_the_driver_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NODE_COMPILE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with node_compile_cache():
        folder = Path(os.environ["NODE_COMPILE_CACHE"])
    assert folder == tmp_path / "airflow-provider-browserbase" / "node-compile-cache"
    assert folder.is_dir()
    assert "NODE_COMPILE_CACHE" not in os.environ


def test_a_cache_the_user_chose_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_COMPILE_CACHE", "")  # empty: the user turned it off
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with node_compile_cache():
        assert os.environ["NODE_COMPILE_CACHE"] == ""
    assert os.environ["NODE_COMPILE_CACHE"] == ""
    assert not (tmp_path / "airflow-provider-browserbase").exists()


def test_the_environment_is_restored_when_the_driver_fails_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NODE_COMPILE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(RuntimeError, match="driver crashed"), node_compile_cache():
        raise RuntimeError("driver crashed")
    assert "NODE_COMPILE_CACHE" not in os.environ


def test_node_disable_compile_cache_turns_it_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NODE_COMPILE_CACHE", raising=False)
    monkeypatch.setenv("NODE_DISABLE_COMPILE_CACHE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with node_compile_cache():
        assert "NODE_COMPILE_CACHE" not in os.environ
    assert not (tmp_path / "airflow-provider-browserbase").exists()


def test_an_unwritable_cache_folder_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NODE_COMPILE_CACHE", raising=False)
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    with node_compile_cache():
        assert "NODE_COMPILE_CACHE" not in os.environ


@pytest.mark.browser
def test_playwright_driver_fills_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real driver, in a fresh process as a task has: the cache it leaves is what the next task loads.
    monkeypatch.delenv("NODE_COMPILE_CACHE", raising=False)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    code = (
        "from playwright.sync_api import sync_playwright\n"
        "from airflow_provider_browserbase.operators._playwright_session import node_compile_cache\n"
        "with node_compile_cache():\n"
        "    p = sync_playwright().start()\n"
        "p.stop()\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    folder = tmp_path / "airflow-provider-browserbase" / "node-compile-cache"
    cached = [p for p in folder.rglob("*") if p.is_file() and p.stat().st_size > 0]
    assert cached, "the node driver wrote no compile cache"
