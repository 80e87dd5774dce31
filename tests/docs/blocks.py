"""The fenced code blocks of the Markdown docs, with the marker comment before each, if any."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"(?:<!--\s*(?P<marker>[^>]*?)\s*-->\s*\n)?"
                    r"```(?P<lang>[\w-]*)\n(?P<body>.*?)```", re.S)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    lang: str
    marker: str
    body: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    return [Block(path, text.count("\n", 0, m.start("body")), m["lang"], m["marker"] or "",
                  m["body"]) for m in _FENCE.finditer(text)]


def markdown_files() -> list[Path]:
    """README.md and every page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
