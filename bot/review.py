"""Marks on knowledge values that a person still has to write or rewrite.

Drafts (``fitbot kb draft``) and suggestions (``fitbot report unanswered --suggest``) never
publish text by themselves: a value taken from an article starts with :data:`REWRITE` (the
article's own words, to be rewritten in the coach's), and a value nobody could fill starts with
:data:`TODO`. Both load (the schema only wants text), so a draft can be tried out; ``fitbot kb
check --strict`` refuses a knowledge base that still holds either (:func:`unreviewed`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import yaml

from bot.errors import Problem
from bot.knowledge import RECORD_DIRS
from bot.knowledge_files import Reader, Unreadable

REWRITE = "REWRITE:"
TODO = "TODO:"
MARKS = (REWRITE, TODO)


def is_marked(text: str) -> bool:
    """Whether ``text`` still waits for a person (starts with a mark)."""
    return text.lstrip().startswith(MARKS)


def unreviewed(directory: Path | str) -> list[Problem]:
    """Every marked value in the record files of ``directory``, with its file and field.

    Files that do not parse are skipped: ``fitbot kb check`` reports them already.
    """
    root = Path(directory)
    reader = Reader(root)  # the knowledge loader's bounds: regular files inside, capped sizes
    problems: list[Problem] = []
    for folder in RECORD_DIRS:
        for path in sorted((root / folder).glob("*.y*ml")):
            try:
                data = reader.load(path)
            except (OSError, Unreadable, yaml.YAMLError):
                continue
            name = f"{folder}/{path.name}"
            for field, text in _strings(data, ""):
                if is_marked(text):
                    mark = next(m for m in MARKS if text.lstrip().startswith(m))
                    what = "rewrite it in your own words" if mark == REWRITE else "write it"
                    problems.append(
                        Problem(name, field, f"not reviewed ({what}, then drop {mark!r})")
                    )
    return problems


def _strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
