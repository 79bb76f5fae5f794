"""The documentation's Python examples stay valid Python: every block fenced as ``python`` compiles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
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
        pytest.param(path, line, code, id=f"{path.name}:{line}")
        for path in [*DOCS, ROOT / "README.md"]
        for line, language, code in code_blocks(path.read_text())
        if language in {"python", "py"}
    ]


def test_docs_exist():
    assert {"deployment.md", "development.md"} <= {path.name for path in DOCS}


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
