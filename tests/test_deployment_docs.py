"""
The recipes of ``docs/deployment.md``, checked offline: there is no Docker (nor network) where the tests run.

Checked here: every requirement line names this package at its version with extras it has; each
Dockerfile extends an official Airflow image of a version and Python that CI tests, the way the image's
documentation extends it; the Compose service's command is a valid ``browserbase-local`` command whose
host, port, API key variable, health check and connection agree with each other and with the server's
rules (connect URL host, accepted ``Host`` names, the own-key rule); ``/health`` answers; the pool command
is Airflow's. Not checked (no Docker, no network): that the images build, that Debian's ``chromium``
installs in the image, that Compose starts the services and that Airflow's published constraints admit
the provider.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement
from test_packaging_docs import code_blocks

import airflow_provider_browserbase
from airflow_provider_browserbase.local.cli import build_parser
from airflow_provider_browserbase.local.config import LocalConfig, ServerLimits, default_api_key
from airflow_provider_browserbase.local.network import HostOriginMiddleware

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.server import LocalServer

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENT = ROOT / "docs" / "deployment.md"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE = "airflow-provider-browserbase"


def blocks(language: str) -> list[str]:
    return [code for _, lang, code in code_blocks(DEPLOYMENT.read_text()) if lang == language]


def requirement_mentions() -> list[str]:
    """Every ``airflow-provider-browserbase[...]==...`` written in a code block of the docs or the README."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for _, _, code in code_blocks(path.read_text()):
            found += re.findall(rf"{PACKAGE}(?:\[[\w,\s-]*\])?(?:==[\w.]+)?", code)
    return found


def test_requirement_lines_name_this_version_and_real_extras() -> None:
    mentions = requirement_mentions()
    assert len(mentions) >= 4, mentions  # the README's two pip lines, deployment.md's and Astro's
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    for mention in mentions:
        requirement = Requirement(mention)
        assert requirement.extras <= extras, f"{mention}: no such extra (the package has {sorted(extras)})"
        for spec in requirement.specifier:
            assert (spec.operator, spec.version) == ("==", airflow_provider_browserbase.__version__), mention
    assert any("[openlineage]" in m for m in mentions)
    assert any("[ai]" in m for m in mentions)


def ci_airflow_versions() -> set[str]:
    versions = set()
    for constraints in (ROOT / ".ci").glob("constraints-airflow-*.txt"):
        versions |= set(re.findall(r"^apache-airflow==([\d.]+)$", constraints.read_text(), re.MULTILINE))
    return versions


def ci_pythons() -> set[str]:
    prefix = "Programming Language :: Python :: "
    return {
        c.removeprefix(prefix) for c in PYPROJECT["project"]["classifiers"] if c.startswith(prefix + "3.")
    }


@pytest.mark.parametrize("dockerfile", blocks("dockerfile"), ids=["airflow-image", "browserbase-local"])
def test_dockerfiles_extend_a_tested_official_image_as_its_documentation_does(dockerfile: str) -> None:
    lines = [line.strip() for line in dockerfile.splitlines() if line.strip() and not line.startswith("#")]
    image = re.fullmatch(r"FROM apache/airflow:([\d.]+)-python(3\.\d+)", lines[0])
    assert image, lines[0]
    assert image[1] in ci_airflow_versions()
    assert image[2] in ci_pythons()
    # The image documentation's requirements.txt recipe, run as the airflow user (pip refuses root there).
    assert "COPY requirements.txt /" in lines
    install = 'RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /requirements.txt'
    assert install in lines
    users = [line for line in lines if line.startswith("USER ")]
    assert users in ([], ["USER root", "USER airflow"])
    if users:
        assert lines.index("USER root") < lines.index("USER airflow") < lines.index(install)


def test_only_the_browserbase_local_image_installs_chromium() -> None:
    airflow_image, local_image = blocks("dockerfile")
    assert "chromium" not in airflow_image
    assert "apt-get install -y --no-install-recommends chromium" in local_image
    (entrypoint,) = re.findall(r"^ENTRYPOINT (.+)$", local_image, re.MULTILINE)
    command = json.loads(entrypoint)
    assert command[:2] == ["/usr/bin/dumb-init", "--"]
    assert command[2:] == ["browserbase-local"]
    assert "browserbase-local" in PYPROJECT["project"]["scripts"]


def compose() -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``browserbase-local`` service and the environment line for ``x-airflow-common``."""
    service_block, environment_line = (yaml.safe_load(block) for block in blocks("yaml"))
    return service_block["services"]["browserbase-local"], environment_line


def test_the_compose_service_is_a_valid_browserbase_local_command(monkeypatch: pytest.MonkeyPatch) -> None:
    service, _ = compose()
    args = build_parser().parse_args(service["command"])
    assert args.host == service["hostname"] == "browserbase-local"
    assert service["build"] == {"context": ".", "dockerfile": "Dockerfile.browserbase-local"}
    # The key comes from the variable the server reads; without it the server refuses a non-loopback host.
    assert service["environment"]["BROWSERBASE_API_KEY"].startswith("${BROWSERBASE_LOCAL_API_KEY:?")
    with pytest.raises(ValueError, match="--api-key"):
        LocalConfig(host=args.host, port=args.port)
    monkeypatch.setenv("BROWSERBASE_API_KEY", "a-random-string")
    config = LocalConfig(
        host=args.host, port=args.port, api_key=default_api_key(), max_sessions=args.max_sessions
    )
    assert config.api_key == "a-random-string"
    # Every session's connect URL names the service, which every container on the network resolves.
    assert config.netloc == "browserbase-local:8787"
    # The Host names the server answers: the service name (health check, Airflow) and loopback.
    guard = HostOriginMiddleware(app=None, config=config)  # type: ignore[arg-type]
    assert guard.known("browserbase-local")
    assert guard.known("localhost")
    assert not guard.known("airflow-worker")
    health = urlsplit(service["healthcheck"]["test"][-1].split("'")[1])
    assert (health.hostname, health.port, health.path) == (args.host, args.port, "/health")


def test_the_airflow_connection_points_at_the_service_with_its_key() -> None:
    service, environment = compose()
    args = build_parser().parse_args(service["command"])
    (value,) = environment.values()
    assert list(environment) == ["AIRFLOW_CONN_BROWSERBASE_DEFAULT"]
    # Compose substitutes the variable from .env; the same one gives the server its key.
    assert "${BROWSERBASE_LOCAL_API_KEY}" in value
    connection = json.loads(value.replace("${BROWSERBASE_LOCAL_API_KEY}", "a-random-string"))
    assert connection == {
        "conn_type": "browserbase",
        "host": f"http://{args.host}:{args.port}",
        "password": "a-random-string",
    }


def test_the_health_path_answers(api_server: LocalServer) -> None:
    import httpx

    answer = httpx.get(f"{api_server.base_url}/health", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


def test_the_documented_limits_are_the_servers_defaults() -> None:
    # "--max-sessions 4" in the service; the pool section sizes the pool to "4 by default".
    assert build_parser().parse_args([]).max_sessions == 4
    assert "sized to `--max-sessions` (4 by default)" in DEPLOYMENT.read_text()
    ServerLimits()  # the service sets no limit flag: the defaults apply


def test_the_pool_command_is_airflows() -> None:
    from airflow.cli.cli_parser import get_parser

    (command,) = [b for b in blocks("bash") if "airflow pools set" in b]
    words = shlex.split(command)
    assert words[0] == "airflow"
    parsed = get_parser().parse_args(words[1:])
    assert (parsed.pool, parsed.slots) == ("browserbase", 4)
