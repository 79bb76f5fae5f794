"""What a model is shown of a page: whitespace-tidied text, an allow-list check, and a cap on size."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """
    Tidy a page's ``innerText`` for a prompt: one space between words, at most one blank line, no
    trailing spaces. Table cells, which ``innerText`` separates with tabs, stay apart (`` | ``).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = []
    for line in text.split("\n"):
        cells = [_SPACES.sub(" ", cell).strip() for cell in line.split("\t")]
        lines.append(" | ".join(cell for cell in cells if cell))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def cap_text(text: str, limit: int, *, hint: str = "") -> str:
    """``text`` cut to ``limit`` characters, with a note that says so (and ``hint``) when it was cut."""
    if len(text) <= limit:
        return text
    note = f"\n[... cut at {limit} of {len(text)} characters.{' ' + hint if hint else ''}]"
    return text[:limit] + note


def _parts(url: str) -> tuple[str, str, str]:
    split = urlsplit(url)
    rest = url[len(f"{split.scheme}://{split.netloc}") :] if "://" in url else url
    return split.scheme.lower(), split.netloc.lower(), rest


def validate_url_prefixes(prefixes: Iterable[str] | None) -> tuple[str, ...] | None:
    """
    Check ``allowed_url_prefixes``: ``None`` (any URL) or a non-empty list of ``http(s)://host/...`` strings.

    An empty list is refused rather than read as "allow everything": a list built at run time that comes
    out empty must not open the browser to the whole web.
    """
    if prefixes is None:
        return None
    if isinstance(prefixes, str):
        prefixes = [prefixes]
    checked = tuple(prefixes)
    if not checked:
        raise ValueError(
            "allowed_url_prefixes: must name at least one URL prefix, or be None to allow any URL"
        )
    for prefix in checked:
        scheme, netloc, _ = _parts(prefix) if isinstance(prefix, str) else ("", "", "")
        if scheme not in ("http", "https") or not netloc:
            raise ValueError(
                f"allowed_url_prefixes: {prefix!r} must be an http:// or https:// URL with a host, "
                "such as 'https://shop.example.com/'"
            )
    return checked


def url_allowed(url: str, prefixes: Sequence[str] | None) -> bool:
    """
    Whether ``url`` lies under one of ``prefixes`` (``None`` allows any URL).

    Scheme and host compare case-insensitively. A prefix matches the URL itself and what lies below it:
    ``https://a.example/shop`` allows ``https://a.example/shop/2`` and ``https://a.example/shop?page=2``
    but not ``https://a.example/shopping`` or ``https://a.example.evil.com/``.
    """
    if prefixes is None:
        return True
    scheme, netloc, rest = _parts(url)
    for prefix in prefixes:
        p_scheme, p_netloc, p_rest = _parts(prefix)
        if (scheme, netloc) != (p_scheme, p_netloc):
            continue
        if not p_rest or p_rest.endswith("/") or rest == p_rest:
            if rest.startswith(p_rest):
                return True
            continue
        if rest.startswith(p_rest) and rest[len(p_rest)] in "/?#":
            return True
    return False
