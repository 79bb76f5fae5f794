"""
The documentation stays valid: every block fenced as ``python`` compiles, and every link to a file of the
repository names a file (and heading) that exists.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").rglob("*.md"))
README = ROOT / "README.md"
# A fence: three or more backticks (or tildes) and an optional info string, alone on the line.
FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})\s*(?P<info>[\w+-]*)\s*$")


def code_blocks(text: str) -> list[tuple[int, str, str]]:
    """(first line number, language, code) of every fenced block in Markdown ``text``."""
    blocks: list[tuple[int, str, str]] = []
    opened: tuple[int, str, str] | None = None
    lines: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if opened is None:
            if match:
                opened, lines = (number + 1, match["fence"], match["info"].lower()), []
        elif match and match["fence"].startswith(opened[1]) and not match["info"]:
            blocks.append((opened[0], opened[2], "\n".join(lines)))
            opened = None
        else:
            lines.append(line)
    assert opened is None, f"a code block opened at line {opened[0] - 1} is never closed"
    return blocks


def python_blocks() -> list[pytest.param]:
    return [
        pytest.param(path, line, code, id=f"{path.relative_to(ROOT)}:{line}")
        for path in [*DOCS, README]
        for line, language, code in code_blocks(path.read_text())
        if language in {"python", "py"}
    ]


def test_docs_exist():
    pages = {path.relative_to(ROOT / "docs").as_posix() for path in DOCS}
    assert {
        "README.md",
        "connection.md",
        "local-server.md",
        "security.md",
        "deployment.md",
        "development.md",
        "reliability.md",
    } <= pages


@pytest.mark.parametrize(("path", "line", "code"), python_blocks())
def test_python_block_compiles(path: Path, line: int, code: str):
    # Blank lines first, so a SyntaxError names the block's real line in the Markdown file.
    compile("\n" * (line - 1) + code, str(path), "exec")


def test_the_block_parser_finds_blocks_and_compile_rejects_a_broken_one():
    text = "intro\n```python\nx = 1\n```\n\n```bash\nls\n```\n````python\ndef f(:\n````\n"
    blocks = code_blocks(text)
    assert [(line, language) for line, language, _ in blocks] == [(3, "python"), (7, "bash"), (10, "python")]
    with pytest.raises(SyntaxError):
        compile(blocks[2][2], "broken", "exec")


# PyPI shows the README without the repository, so the README links to the repository's files absolutely.
REPOSITORY_URLS = (
    "https://github.com/airflow-provider-browserbase/airflow-provider-browserbase/blob/main/",
    "https://github.com/airflow-provider-browserbase/airflow-provider-browserbase/tree/main/",
    "https://raw.githubusercontent.com/airflow-provider-browserbase/airflow-provider-browserbase/main/",
)
INLINE_LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+(\S+)", flags=re.MULTILINE)


def prose(text: str) -> str:
    """``text`` without its fenced code blocks (a link-like string in code is code)."""
    kept: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        match = FENCE.match(line)
        if fence is None and match:
            fence = match["fence"]
        elif fence is not None and match and match["fence"].startswith(fence) and not match["info"]:
            fence = None
        elif fence is None:
            kept.append(line)
    return "\n".join(kept)


def links(text: str) -> list[str]:
    body = prose(text)
    return INLINE_LINK.findall(body) + REFERENCE_LINK.findall(body)


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of Markdown ``text`` (``## `x` and y`` → ``x-and-y``)."""
    anchors: set[str] = set()
    for line in prose(text).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = re.sub(r"[^\w\- ]", "", match[1].lower()).replace(" ", "-")
            # GitHub numbers repeated headings: the second "x" is "x-1".
            anchor, n = slug, 0
            while anchor in anchors:
                n += 1
                anchor = f"{slug}-{n}"
            anchors.add(anchor)
    return anchors


def link_problem(source: Path, target: str) -> str | None:
    """Why ``target``, a link in ``source``, is broken; ``None`` when it is fine or leaves the repository."""
    for prefix in REPOSITORY_URLS:
        if target.startswith(prefix):
            path_part, _, anchor = target[len(prefix) :].partition("#")
            path = ROOT / path_part
            break
    else:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https://elsewhere, mailto:
            return None
        path_part, _, anchor = target.partition("#")
        path = (source.parent / path_part) if path_part else source
    path = path.resolve()
    if not path.is_relative_to(ROOT) or not path.exists():
        return f"{target}: no such file in the repository"
    if anchor and path.suffix == ".md" and anchor not in heading_anchors(path.read_text()):
        return f"{target}: {path.relative_to(ROOT)} has no heading #{anchor}"
    return None


@pytest.mark.parametrize("path", [*DOCS, README], ids=lambda path: str(path.relative_to(ROOT)))
def test_links_to_the_repository_resolve(path: Path):
    found = links(path.read_text())
    problems = [problem for target in found if (problem := link_problem(path, target))]
    assert not problems, f"broken links in {path.relative_to(ROOT)}: {problems}"


def test_the_readme_links_absolutely_as_pypi_shows_it_alone():
    relative = [
        target
        for target in links(README.read_text())
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")
    ]
    assert not relative, f"the README links relatively (broken on PyPI): {relative}"


def test_the_link_checker_finds_broken_files_and_anchors():
    page = ROOT / "docs" / "connection.md"
    text = "[a](security.md#xcom-and-secrets) [b](nowhere.md)\n```\n[c](in-code.md)\n```\n"
    text += "[d]: ../README.md#nope\n"
    assert links(text) == ["security.md#xcom-and-secrets", "nowhere.md", "../README.md#nope"]
    assert link_problem(page, "security.md#xcom-and-secrets") is None
    assert "no such file" in (link_problem(page, "nowhere.md") or "")
    assert "no heading #nope" in (link_problem(page, "../README.md#nope") or "")
    assert link_problem(page, REPOSITORY_URLS[0] + "docs/local-server.md") is None
    assert "no such file" in (link_problem(page, REPOSITORY_URLS[0] + "docs/gone.md") or "")
    assert link_problem(page, "https://airflow.apache.org/docs/") is None
    assert "x-and-y" in heading_anchors("## `x` and y\n")


def public_classes() -> list[str]:
    """``Browserbase*`` classes of the operator, sensor and trigger modules (not ``_private`` ones)."""
    names: list[str] = []
    for folder in ("operators", "sensors", "triggers"):
        for module in sorted((ROOT / "airflow_provider_browserbase" / folder).glob("[!_]*.py")):
            tree = ast.parse(module.read_text())
            names += [
                node.name
                for node in tree.body
                if isinstance(node, ast.ClassDef) and node.name.startswith("Browserbase")
            ]
    return names


@pytest.mark.parametrize("name", public_classes())
def test_every_operator_sensor_and_trigger_has_a_readme_line_and_a_page(name: str):
    # The README's table links each one to its page; the docs index lists the page too.
    readme_line = re.search(rf"^\| \[`{name}`\]\[([\w-]+)\] \| .+\|$", README.read_text(), flags=re.MULTILINE)
    assert readme_line, f"the README's operator table has no line for {name}"
    target = re.search(rf"^\[{readme_line[1]}\]: (\S+)$", README.read_text(), flags=re.MULTILINE)
    assert target, f"the README's link label {readme_line[1]!r} is never defined"
    assert link_problem(README, target[1]) is None
    page = ROOT / target[1].removeprefix(REPOSITORY_URLS[0])
    assert f"# `{name}`" in page.read_text(), f"{page.relative_to(ROOT)} is not {name}'s page"
    index = (ROOT / "docs" / "README.md").read_text()
    assert f"[`{name}`]({page.relative_to(ROOT / 'docs').as_posix()})" in index


def test_the_docs_index_links_every_page():
    index = (ROOT / "docs" / "README.md").resolve()
    linked = {(index.parent / target.partition("#")[0]).resolve() for target in links(index.read_text())}
    unlisted = [str(page.relative_to(ROOT)) for page in DOCS if page.resolve() not in linked | {index}]
    assert not unlisted, f"docs/README.md does not link {unlisted}"
