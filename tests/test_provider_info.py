"""The provider's metadata: what Airflow's providers manager reads to discover and render it."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import warnings
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from airflow_provider_browserbase import __version__
from airflow_provider_browserbase.get_provider_info import get_provider_info

INFO = get_provider_info()


def _import(path: str) -> object:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_entry_point_resolves_to_get_provider_info():
    (point,) = [
        ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("airflow_pro")
    ]
    assert point.load() is get_provider_info


def test_info_validates_against_airflows_runtime_schema():
    import airflow

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(INFO, schema)
    assert INFO["package-name"] == "airflow-provider-browserbase"
    assert INFO["versions"] == [__version__]


@pytest.mark.parametrize(
    "module",
    [
        m
        for key in ("hooks", "operators", "sensors", "triggers")
        for entry in INFO[key]
        for m in entry["python-modules"]
    ],
)
def test_every_listed_module_imports(module):
    importlib.import_module(module)


@pytest.mark.parametrize(
    "class_path",
    [
        *INFO["extra-links"],
        *(c["hook-class-name"] for c in INFO["connection-types"]),
        *(d["class-name"] for d in INFO["task-decorators"]),
    ],
)
def test_every_listed_class_imports(class_path):
    assert callable(_import(class_path))


def _runtime_providers_manager() -> Any:
    """
    The providers manager that owns hooks and task decorators on this Airflow.

    Airflow 3.2+ moved them to the task SDK's ``ProvidersManagerTaskRuntime`` (core's ``ProvidersManager``
    still answers, with a deprecation warning); 3.1 has only core's.
    """
    try:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime
    except ImportError:  # Airflow 3.1
        from airflow.providers_manager import ProvidersManager

        return ProvidersManager()
    return ProvidersManagerTaskRuntime()


def test_providers_manager_discovers_the_provider():
    from airflow.providers_manager import ProvidersManager

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runtime = _runtime_providers_manager()
        assert "airflow-provider-browserbase" in runtime.providers
        hook = runtime.hooks["browserbase"]
        decorators = runtime.taskflow_decorators
        link_classes = ProvidersManager().extra_links_class_names
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_browserbase.hooks.browserbase.BrowserbaseHook"
    assert hook.connection_testable
    assert "airflow_provider_browserbase.links.session.BrowserbaseSessionLink" in link_classes
    assert "airflow_provider_browserbase.links.live_view.BrowserbaseLiveViewLink" in link_classes
    assert any(name == "browserbase" for name in decorators)
    ours = [
        w
        for w in caught
        if w.filename == __file__ and issubclass(w.category, (DeprecationWarning, FutureWarning))
    ]
    assert not ours, [str(w.message) for w in ours]


_FORM_METADATA = """
import json
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
(meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "browserbase"]
print(json.dumps(meta.model_dump(mode="json")))
"""


def test_connection_form_as_the_api_server_renders_it():
    """
    The React UI's form metadata, built as the API server builds it, in a fresh process.

    Airflow 3.2+ reads it from the provider info without importing the hook; 3.1 from the hook's
    classmethods. A fresh process, because the providers manager caches what it loaded.
    """
    result = subprocess.run(
        [sys.executable, "-c", _FORM_METADATA], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    meta = json.loads(result.stdout.strip().splitlines()[-1])
    standard = meta["standard_fields"]
    assert standard["password"]["title"] == "API Key"
    assert standard["host"]["title"] == "API base URL"
    assert "api.browserbase.com" in standard["host"]["placeholder"]
    for hidden in ("login", "port", "url_schema"):
        assert standard[hidden]["hidden"] is True
    extra = meta["extra_fields"]
    (project_id,) = [value for key, value in extra.items() if key.endswith("project_id")]
    assert project_id["schema"]["title"] == "Project ID"
    assert "null" in project_id["schema"]["type"]


def test_hook_classmethods_describe_the_same_form_for_airflow_3_1():
    from airflow_provider_browserbase.hooks.browserbase import BrowserbaseHook

    behaviour = BrowserbaseHook.get_ui_field_behaviour()
    assert behaviour["relabeling"] == {"password": "API Key", "host": "API base URL"}
    assert set(behaviour["hidden_fields"]) == {"schema", "port", "login"}


def test_airflow_cli_shows_the_provider():
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(airflow), "providers", "get", "airflow-provider-browserbase", "--output", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (shown,) = json.loads(result.stdout[result.stdout.index("[") :])
    assert shown == {"Provider": "airflow-provider-browserbase", "Version": __version__}
