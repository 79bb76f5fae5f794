"""Every example DAG imports, and runs to success with ``dag.test()`` on ``browserbase-local``."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from example_helpers import (
    EXAMPLE_DAGS,
    assert_no_running_session,
    asset_events,
    documented_xcom_keys,
    run_example,
    task_states,
    xcom_keys,
    xcom_value,
    xcom_values,
)
from support import probe_mp4

from airflow_provider_browserbase.local.demo_site import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    PRODUCTS,
    REPORT_CSV,
    product_records,
)

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.server import LocalServer

EXAMPLE_DAG_IDS = sorted(path.stem for path in EXAMPLE_DAGS.glob("example_*.py"))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a valid PNG has first."""
    assert data[:8] == PNG_MAGIC, "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def assert_valid_png(path: Path | Any) -> None:
    width, height = png_size(path.read_bytes())
    assert width > 0
    assert height > 0


def assert_valid_pdf(path: Path | Any) -> None:
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    assert b"%%EOF" in data[-1024:]


def assert_succeeded(dag_run: Any) -> None:
    states = task_states(dag_run)
    assert str(dag_run.state) == "success", f"{dag_run.dag_id} ended {dag_run.state}: {states}"
    assert set(states.values()) == {"success"}, states


def test_example_dags_import_without_errors(example_dagbag: Any) -> None:
    assert example_dagbag.import_errors == {}
    assert sorted(example_dagbag.dag_ids) == EXAMPLE_DAG_IDS
    for dag_id in EXAMPLE_DAG_IDS:
        dag = example_dagbag.dags[dag_id]
        assert dag.doc_md, f"{dag_id} has no docstring"
        assert "example" in dag.tags


def test_parsing_the_example_dags_imports_no_browser_code() -> None:
    """The DAG processor parses these files often: Playwright loads only when a task runs."""
    script = (
        "import sys\n"
        "from airflow.models import DagBag\n"
        f"bag = DagBag(dag_folder={str(EXAMPLE_DAGS)!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "assert len(bag.dags) == %d, sorted(bag.dags)\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] == 'playwright' or '.local.' in m]\n"
        "assert not loaded, loaded\n"
    ) % len(EXAMPLE_DAG_IDS)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.usefixtures("airflow_db")
def test_scrape_returns_every_product_and_captures_the_first_page(
    example_dagbag: Any,
    local_server: LocalServer,
    demo_url: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    capfd.readouterr()
    # No base_url: the example finds the demo shop through the connection (the server's port is random).
    dag_run = run_example(example_dagbag, "example_browserbase_scrape", output_dir=str(tmp_path))

    assert_succeeded(dag_run)
    assert xcom_value(dag_run, "scrape_products", "records") == product_records(demo_url)
    screenshot = Path(xcom_value(dag_run, "scrape_products", "screenshot"))
    pdf = Path(xcom_value(dag_run, "scrape_products", "pdf"))
    assert screenshot.parent.parent == tmp_path
    assert_valid_png(screenshot)
    assert_valid_pdf(pdf)
    session_id = xcom_value(dag_run, "create_session", "session_id")
    assert xcom_keys(dag_run, "create_session") == documented_xcom_keys("BrowserbaseCreateSessionOperator")
    assert xcom_keys(dag_run, "end_session") == documented_xcom_keys("BrowserbaseEndSessionOperator")
    assert xcom_value(dag_run, "end_session") in ("COMPLETED", "RUNNING")
    assert_no_running_session(local_server.base_url)
    assert session_id
    assert_one_line_per_event(capfd.readouterr().out, session_id)


def assert_one_line_per_event(log: str, session_id: str) -> None:
    """One create reads as one "Created" line; the end as one line, after the session's other lines."""
    naming = [line for line in log.splitlines() if session_id in line and "local.state" not in line]
    created = [line for line in naming if "Created Browserbase session" in line]
    assert len(created) == 1, created
    assert not [line for line in naming if "release requested" in line], naming
    ended = [i for i, line in enumerate(naming) if "has ended" in line or "Requested the release" in line]
    assert len(ended) == 1, naming


@pytest.fixture
def browserbase_pool(airflow_db: Path) -> None:
    """The pool the fan-out example's tasks run in, sized like ``browserbase-local``'s concurrency."""
    from airflow.models.pool import Pool

    Pool.create_or_update_pool(
        "browserbase", slots=4, description="Browserbase sessions", include_deferred=False
    )


@pytest.mark.usefixtures("browserbase_pool")
def test_fanout_reads_each_page_in_its_own_session(
    example_dagbag: Any, local_server: LocalServer, demo_url: str
) -> None:
    products = [PRODUCTS[0], PRODUCTS[8], PRODUCTS[16], PRODUCTS[23]]
    urls = [f"{demo_url}/{p.path}" for p in products]

    # No urls: four pages of the demo shop that the connection points at.
    dag_run = run_example(example_dagbag, "example_browserbase_fanout")

    assert_succeeded(dag_run)
    expected = [
        {"url": url, "status": 200, "title": p.name, "name": p.name, "sku": p.sku, "price": p.price}
        for url, p in zip(urls, products, strict=True)
    ]
    assert xcom_value(dag_run, "summarize") == expected
    mapped = [state for task, state in task_states(dag_run).items() if task.startswith("read_page[")]
    assert mapped == ["success"] * len(urls)
    assert_no_running_session(local_server.base_url)


@pytest.mark.usefixtures("airflow_db")
def test_login_context_keeps_the_login_for_a_second_session(
    example_dagbag: Any, local_server: LocalServer, demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_browserbase.exceptions import BrowserbaseNotFoundError
    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_BROWSERBASE_DEMO_SITE",
        json.dumps({"conn_type": "generic", "login": DEMO_USERNAME, "password": DEMO_PASSWORD}),
    )

    dag_run = run_example(example_dagbag, "example_browserbase_login_context")

    assert_succeeded(dag_run)
    assert xcom_value(dag_run, "read_account") == {
        "signed_in_as": f"Signed in as {DEMO_USERNAME}",
        "remembered": DEMO_USERNAME,
    }
    login_session = xcom_value(dag_run, "log_in")
    reading_session = xcom_value(dag_run, "read_account", "session_id")
    assert login_session != reading_session
    context_id = xcom_value(dag_run, "create_context")
    with pytest.raises(BrowserbaseNotFoundError):
        BrowserbaseHook().get_context(context_id)
    assert_no_running_session(local_server.base_url)


@pytest.mark.usefixtures("airflow_db")
def test_login_context_fails_the_run_on_wrong_credentials_and_still_deletes_the_context(
    example_dagbag: Any, local_server: LocalServer, demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_browserbase.exceptions import BrowserbaseNotFoundError
    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_BROWSERBASE_DEMO_SITE",
        json.dumps({"conn_type": "generic", "login": DEMO_USERNAME, "password": "wrong"}),
    )

    dag_run = run_example(example_dagbag, "example_browserbase_login_context", base_url=demo_url)

    states = task_states(dag_run)
    assert str(dag_run.state) == "failed", states
    assert states["log_in"] == "failed"
    assert states["delete_context"] == "success"
    with pytest.raises(BrowserbaseNotFoundError):
        BrowserbaseHook().get_context(xcom_value(dag_run, "create_context"))
    assert_no_running_session(local_server.base_url)


@pytest.mark.usefixtures("airflow_db")
def test_archive_writes_screenshot_pdf_and_the_downloaded_file(
    example_dagbag: Any, local_server: LocalServer, demo_url: str, tmp_path: Path
) -> None:
    from airflow.sdk import ObjectStoragePath

    dag_run = run_example(
        example_dagbag,
        "example_browserbase_archive",
        destination=f"file://{tmp_path}",
    )

    assert_succeeded(dag_run)
    folder = ObjectStoragePath(xcom_value(dag_run, "capture_page", "folder"))
    assert Path(folder.path).parent == tmp_path
    assert_valid_png(folder / "page.png")
    assert_valid_pdf(folder / "page.pdf")
    written = [ObjectStoragePath(p) for p in xcom_value(dag_run, "save_downloads")]
    assert len(written) == 1
    assert re.fullmatch(r"report(-\d+)?\.csv", written[0].name)
    assert written[0].parent == folder / "downloads"
    assert written[0].read_bytes() == REPORT_CSV
    assert asset_events(dag_run) == {
        "browserbase_archive_captures": {
            "screenshot": str(folder / "page.png"),
            "pdf": str(folder / "page.pdf"),
        },
        "browserbase_archive_downloads": {},
    }
    assert_no_running_session(local_server.base_url)


@pytest.mark.usefixtures("airflow_db")
def test_recording_keeps_the_video_of_a_failed_scrape_which_fails_with_its_own_error(
    example_dagbag: Any,
    local_server: LocalServer,
    demo_url: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    dag_run = run_example(
        example_dagbag,
        "example_browserbase_recording",
        url=f"{demo_url}/products",
        selector="tr.product .no-such-class",
        recordings=str(tmp_path),
        wait_ms=1000,
    )

    assert task_states(dag_run) == {"read_names": "failed"}
    sys.stdout.flush()
    output = capfd.readouterr().out + caplog.text
    # The task's own error, not one about the recording.
    assert "Timeout 1000ms exceeded" in output
    assert 'locator("tr.product .no-such-class")' in output
    assert "Saved the recording of Browserbase session" in output
    (saved,) = xcom_value(dag_run, "read_names", "browserbase_recording")
    assert Path(saved).parent.parent == tmp_path
    container, codec, frames, duration = probe_mp4(Path(saved).read_bytes())
    assert "mp4" in container
    assert codec == "h264"
    assert frames >= 2
    assert 0.5 < duration < 120
    assert_no_running_session(local_server.base_url)


@pytest.mark.usefixtures("airflow_db")
def test_search_fetch_saves_the_top_results_as_markdown(
    example_dagbag: Any, local_server: LocalServer, demo_url: str, tmp_path: Path
) -> None:
    dag_run = run_example(
        example_dagbag,
        "example_browserbase_search_fetch",
        query="brass lamp",
        num_results=2,
        destination=f"file://{tmp_path}/pages",
    )

    assert_succeeded(dag_run)
    found = xcom_value(dag_run, "search")
    assert 1 <= len(found) <= 2
    assert found[0]["url"] == f"{demo_url}/products/BB-1002"
    fetched = xcom_values(dag_run, "fetch")
    assert [page["url"] for page in fetched] == [result["url"] for result in found]
    summary = xcom_value(dag_run, "summarize")
    assert [entry["path"] for entry in summary] == [page["path"] for page in fetched]
    first = Path(fetched[0]["path"].removeprefix("file://"))
    assert first.parent == tmp_path / "pages"
    assert first.suffix == ".md"
    text = first.read_text()
    assert "# Brass desk lamp" in text
    assert summary[0]["bytes"] == first.stat().st_size


@pytest.mark.usefixtures("airflow_db")
def test_page_title_returns_the_pages_title(
    example_dagbag: Any, local_server: LocalServer, demo_url: str
) -> None:
    dag_run = run_example(example_dagbag, "example_browserbase_page_title")

    assert_succeeded(dag_run)
    assert xcom_value(dag_run, "page_title") == "Demo shop"
    assert xcom_keys(dag_run, "page_title") == documented_xcom_keys("@task.browserbase")
    assert_no_running_session(local_server.base_url)


def test_readme_quotes_the_minimal_example_as_it_is() -> None:
    """The README's minimal DAG is ``example_browserbase_page_title.py``, not a copy that drifts."""
    readme = (EXAMPLE_DAGS.parent / "README.md").read_text()
    source = (EXAMPLE_DAGS / "example_browserbase_page_title.py").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert source in blocks


@pytest.mark.usefixtures("airflow_db")
def test_janitor_reports_first_then_ends_a_session_of_a_run_that_is_gone(
    example_dagbag: Any, local_server: LocalServer
) -> None:
    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

    hook = BrowserbaseHook()
    tags = {"dag_id": "example_browserbase_scrape", "task_id": "create_session", "run_id": "manual__gone"}
    left = hook.create_session(keep_alive=True, user_metadata={"airflow": {**tags, "try_number": "1"}}).id

    dry_run = run_example(example_dagbag, "example_browserbase_janitor")
    assert_succeeded(dry_run)
    report = xcom_value(dry_run, "end_leftover_sessions")
    assert report["dry_run"] is True
    would_end = {entry["session_id"]: entry["reason"] for entry in report["would_end"]}
    assert would_end[left].endswith("is gone and its DAG run is gone")  # read through the task SDK
    assert hook.get_session_status(left).status == "RUNNING"

    cleanup = run_example(example_dagbag, "example_browserbase_janitor", report_only=False)
    assert_succeeded(cleanup)
    ended = {entry["session_id"] for entry in xcom_value(cleanup, "end_leftover_sessions")["ended"]}
    assert left in ended
    assert hook.get_session_status(left).status == "COMPLETED"
