"""What a platform team's scanners and installers read: licence, metadata, dependencies, support matrix."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.parser import Parser
from functools import cache
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "airflow_provider_browserbase"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
DEPENDENCIES = {canonicalize_name(Requirement(r).name): Requirement(r) for r in PROJECT["dependencies"]}
# Optional integrations: their modules import these only when the user installs the extra.
EXTRAS = {
    canonicalize_name(Requirement(r).name)
    for requirements in PROJECT.get("optional-dependencies", {}).values()
    for r in requirements
}
CONSTRAINTS = sorted((ROOT / ".ci").glob("constraints-airflow-*.txt"))

# Imported only inside BrowserbaseHook.get_connection_form_widgets, which Airflow 3.1 calls while it has
# these modules replaced by stand-ins to build the React form's metadata (3.2+ never calls it): declaring
# them would install Flask-AppBuilder for nothing.
FORM_WIDGET_STAND_INS = {"flask_appbuilder", "flask_babel", "wtforms"}
DEV_TOOLS = {"pytest", "ruff", "mypy", "hypothesis", "schemathesis", "browserbase", "py-spy", "pyinstrument"}


def _build(backend_hook: str, out: Path) -> Path:
    """Build with hatchling's own PEP 517 hook, offline (no isolated build environment to download)."""
    code = f"from hatchling.build import {backend_hook}; print({backend_hook}({str(out)!r}))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out / result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    with zipfile.ZipFile(_build("build_wheel", tmp_path_factory.mktemp("wheel"))) as built:
        yield built


def _metadata(wheel: zipfile.ZipFile):
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return Parser().parsestr(wheel.read(name).decode())


def test_licence_is_the_apache_2_text_and_notice_names_the_project():
    text = (ROOT / "LICENSE").read_text()
    for marker in (
        "Apache License",
        "Version 2.0, January 2004",
        "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
        "END OF TERMS AND CONDITIONS",
    ):
        assert marker in text
    assert (ROOT / "NOTICE").read_text().startswith("airflow-provider-browserbase\n")
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE", "NOTICE"]


def test_wheel_carries_licence_files_and_release_metadata(wheel):
    dist_info = next(n.split("/")[0] for n in wheel.namelist() if ".dist-info/" in n)
    for name in ("LICENSE", "NOTICE"):
        assert wheel.read(f"{dist_info}/licenses/{name}") == (ROOT / name).read_bytes()
    meta = _metadata(wheel)
    assert meta["License-Expression"] == "Apache-2.0"
    assert sorted(meta.get_all("License-File")) == ["LICENSE", "NOTICE"]
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Changelog", "Issues", "Documentation", "Source"} <= set(urls)
    assert urls["Changelog"].endswith("/CHANGELOG.md")


def test_wheel_publishes_the_runtime_dependencies_and_no_dev_tools(wheel):
    meta = _metadata(wheel)
    requirements = [Requirement(r) for r in meta.get_all("Requires-Dist")]
    published = {canonicalize_name(r.name) for r in requirements if r.marker is None}
    assert published == set(DEPENDENCIES)
    # Each optional integration is an extra: its packages are installed only with it.
    optional = {canonicalize_name(r.name) for r in requirements if r.marker is not None}
    assert optional == set(EXTRAS)
    assert all("extra ==" in str(r.marker) for r in requirements if r.marker is not None)
    assert not (published | optional) & DEV_TOOLS
    assert set(meta.get_all("Provides-Extra") or []) == set(PROJECT.get("optional-dependencies", {}))
    assert not [n for n in wheel.namelist() if n.startswith(("tests/", "benchmarks/", "example_dags/"))]


def test_sdist_carries_licence_changelog_and_docs(tmp_path):
    with tarfile.open(_build("build_sdist", tmp_path)) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {"LICENSE", "NOTICE", "CHANGELOG.md", "README.md", "pyproject.toml"} <= names
    assert {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")} <= names


def test_changelog_has_an_unreleased_section_and_the_version_policy():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    assert "## Version policy" in text
    assert "semantic versioning" in text


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> set[str]:
    """Absolute module names imported at run time: everything but `if TYPE_CHECKING:` bodies."""
    found: set[str] = set()
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            found |= {m for child in node.orelse for m in _runtime_imports(child)}
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        found |= _runtime_imports(node)
    return found


def _package_imports() -> dict[str, set[str]]:
    """Third-party module name -> the package files that import it."""
    users: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for module in _runtime_imports(ast.parse(path.read_text(), str(path))):
            top = module.partition(".")[0]
            if top in sys.stdlib_module_names or top == PACKAGE.name or top in FORM_WIDGET_STAND_INS:
                continue
            users.setdefault(module, set()).add(path.relative_to(ROOT).as_posix())
    return users


@cache
def _packages_distributions() -> Mapping[str, list[str]]:
    return packages_distributions()


def _is_declared(module: str, declared: set[str]) -> bool:
    """
    Whether ``module`` comes from one of the ``declared`` distributions.

    A provider's module needs that provider (``airflow.providers.common.compat.sdk`` comes from
    apache-airflow-providers-common-compat). Others are mapped through the installed distributions'
    metadata; a module of an extra that this environment does not install cannot be mapped, so its import
    name must name the distribution (``pydantic_ai`` -> ``pydantic-ai`` or ``pydantic-ai-slim``).
    """
    if module.startswith("airflow.providers."):
        parts = module.split(".")[2:]
        providers = {
            "apache-airflow-providers-" + "-".join(parts[:n]).replace("_", "-")
            for n in range(1, len(parts) + 1)
        }
        return bool(providers & declared)
    top = module.partition(".")[0]
    installed = _packages_distributions().get(top)
    if installed:
        return bool({canonicalize_name(d) for d in installed} & declared)
    name = canonicalize_name(top)
    return any(d == name or d.startswith(f"{name}-") for d in declared)


def test_every_runtime_import_of_the_package_is_a_declared_dependency():
    imports = _package_imports()
    assert {"fastapi", "starlette", "uvicorn", "httpx", "pydantic"} <= {
        m.partition(".")[0] for m in imports
    }, "the scan no longer sees the imports it exists to check"
    undeclared = {
        module: sorted(files)
        for module, files in imports.items()
        if not _is_declared(module, set(DEPENDENCIES) | EXTRAS)
    }
    assert not undeclared, f"imported at run time but in neither dependencies nor an extra: {undeclared}"


def test_the_import_check_maps_modules_to_distributions():
    assert _is_declared("airflow.providers.common.compat.sdk", {"apache-airflow-providers-common-compat"})
    assert not _is_declared(
        "airflow.providers.openlineage.extractors", {"apache-airflow-providers-common-compat"}
    )
    assert _is_declared("websockets.asyncio", {"websockets"})
    assert not _is_declared("websockets", {"httpx"})
    assert _is_declared("not_installed_here.sub", {"not-installed-here-slim"})
    assert not _is_declared("not_installed_here", {"something-else"})


@pytest.mark.parametrize("constraints", CONSTRAINTS, ids=lambda p: p.name)
def test_dependency_bounds_admit_every_tested_airflows_versions(constraints):
    pins = dict(line.split("==", 1) for line in constraints.read_text().split())
    pins = {canonicalize_name(name): version for name, version in pins.items()}
    for name, requirement in DEPENDENCIES.items():
        assert name in pins, f"{name} is not pinned in {constraints.name}"
        assert requirement.specifier.contains(pins[name]), (
            f"{requirement} excludes {constraints.name}'s {pins[name]}"
        )


def _closure(
    name: str, extras: frozenset[str] = frozenset(), seen: set[tuple[str, str]] | None = None
) -> set[str]:
    """Installed distributions that ``name`` (with ``extras``) requires, transitively."""
    seen = set() if seen is None else seen
    todo = {(canonicalize_name(name), extra) for extra in {"", *extras}} - seen
    seen |= todo
    for dist, extra in todo:
        try:
            lines = requires(dist) or []
        except PackageNotFoundError:
            continue
        for requirement in map(Requirement, lines):
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                _closure(requirement.name, frozenset(requirement.extras), seen)
    return {dist for dist, _ in seen}


def test_airflow_already_brings_every_dependency_but_playwright_markdownify_and_av():
    """Adding the provider to an Airflow image installs Playwright, markdownify (browserbase-local's
    /v1/fetch) and markdownify's Beautiful Soup, PyAV (browserbase-local's recordings), nothing else
    (docs/deployment.md)."""
    brought = _closure("apache-airflow")
    assert set(DEPENDENCIES) - brought == {"playwright", "markdownify", "av"}
    added = set().union(*(_closure(name) for name in DEPENDENCIES)) - brought
    assert added == {"playwright", "markdownify", "beautifulsoup4", "soupsieve", "av"}


def test_dev_tools_are_dependency_groups_and_not_published_extras():
    assert not EXTRAS & DEV_TOOLS
    grouped = {
        canonicalize_name(Requirement(r).name)
        for group in PYPROJECT["dependency-groups"].values()
        for r in group
        if isinstance(r, str)
    }
    assert grouped >= DEV_TOOLS
    assert "--group" in (ROOT / ".ci/setup").read_text()


def _ci_lanes() -> list[tuple[str, str]]:
    """(Airflow line, Python version) of every lane in .ci/test, read from the scripts themselves."""
    setup = (ROOT / ".ci/setup").read_text()
    default_python = re.search(r"\$\{PYTHON:-python(3\.\d+)", setup).group(1)
    test = (ROOT / ".ci/test").read_text()
    lanes = [("3.3", default_python)] if re.search(r"^\.ci/setup 3\.3$", test, re.M) else []
    for airflow, python in re.findall(
        r"^\s*unit_lane \"[^\"]+\" \S+ (3\.\d+)(?: python(3\.\d+))?$", test, re.M
    ):
        lanes.append((airflow, python or default_python))
    return lanes


def test_classifiers_and_bounds_say_exactly_what_ci_runs():
    lanes = _ci_lanes()
    assert {airflow for airflow, _ in lanes} == {"3.1", "3.2", "3.3"}
    pythons = {python for _, python in lanes}
    classified = {
        c.rsplit(" :: ", 1)[1]
        for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert classified == pythons
    assert "Framework :: Apache Airflow :: Provider" in PROJECT["classifiers"]
    oldest_airflow = min(Version(airflow) for airflow, _ in lanes)
    assert str(DEPENDENCIES["apache-airflow"].specifier) == f">={oldest_airflow}.0"
    assert PROJECT["requires-python"] == f">={min(pythons, key=Version)}"


def test_classifiers_are_known_to_pypi():
    from trove_classifiers import classifiers

    assert set(PROJECT["classifiers"]) <= classifiers


@pytest.mark.parametrize("constraints", CONSTRAINTS, ids=lambda p: p.name)
def test_each_constraints_file_pins_the_airflow_its_lane_installs(constraints):
    line = constraints.stem.removeprefix("constraints-airflow-")
    setup_pin = re.search(
        rf"^\s*{re.escape(line)}\) airflow_pin=\"(apache-airflow==[\d.]+)\"",
        (ROOT / ".ci/setup").read_text(),
        re.M,
    )
    assert setup_pin, f".ci/setup has no lane for {constraints.name}"
    assert setup_pin.group(1) in constraints.read_text().split()
