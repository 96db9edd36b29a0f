"""Draft records as YAML knowledge files, every value with a comment saying where it came from.

Strings are written as JSON strings (a subset of YAML's double-quoted scalars), so no article
text can change the file's structure; comments carry the provenance, which a loader ignores.
"""

from __future__ import annotations

import json
from typing import Any

from bot.drafting.model import DraftRecord, Value
from bot.review import REWRITE, TODO

INDENT = 2


def header(record: DraftRecord, article: str) -> list[str]:
    """The comment block that opens a draft file."""
    lines = [
        f"# DRAFT of {'an' if record.kind[0] in 'aeiou' else 'a'} {record.kind} record, written "
        f"by `fitbot kb draft` from {article}.",
        f"# Values marked {REWRITE} are the article's own sentences: rewrite each in your own",
        f"# words, then drop the mark. Values marked {TODO} could not be filled from the",
        "# article: write them, or delete the entry.",
        "# Names, muscles and labels are kept as the article gives them. Each value's comment",
        "# says where in the article it came from. `fitbot kb check --strict` refuses this file",
        "# while any mark is left; `fitbot kb check` already tells whether it validates.",
    ]
    if record.unfilled:
        lines += ["#", "# Not found in the article (fill in, or leave out):"]
        lines += _wrapped(", ".join(record.unfilled), "#   ")
    if record.hints:
        lines += ["#", "# Also worth a look:"]
        for hint in record.hints:
            lines += _wrapped(hint, "#   - ", "#     ")
    return lines


def record_yaml(record: DraftRecord, article: str) -> str:
    """The whole draft file."""
    out = header(record, article)
    out.append(f"id: {record.id}")
    out.append(f"kind: {record.kind}")
    _mapping(record.fields, 0, out)
    return "\n".join(out) + "\n"


def _mapping(mapping: dict[str, Any], indent: int, out: list[str], *, dash: bool = False) -> None:
    first = True
    for key, value in mapping.items():
        if value is None or value == [] or value == {}:
            continue
        pad = " " * indent
        lead = (" " * (indent - INDENT) + "- ") if dash and first else pad
        first = False
        if isinstance(value, Value):
            _comment(value, lead[: len(lead) - len(lead.lstrip())], out)
            out.append(f"{lead}{key}: {_scalar(value)}")
        elif isinstance(value, str):
            out.append(f"{lead}{key}: {json.dumps(value, ensure_ascii=False)}")
        elif isinstance(value, dict):
            out.append(f"{lead}{key}:")
            _mapping(value, indent + INDENT, out)
        elif isinstance(value, list):
            out.append(f"{lead}{key}:")
            _sequence(value, indent + INDENT, out)
        else:
            raise TypeError(f"cannot write {type(value).__name__} as a draft value")


def _sequence(items: list[Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for item in items:
        if isinstance(item, Value):
            _comment(item, pad, out)
            out.append(f"{pad}- {_scalar(item)}")
        elif isinstance(item, dict):
            _mapping(item, indent + INDENT, out, dash=True)
        else:
            out.append(f"{pad}- {json.dumps(item, ensure_ascii=False)}")


def _comment(value: Value, pad: str, out: list[str]) -> None:
    parts = []
    if value.where is not None:
        parts.append(str(value.where))
    elif value.todo:
        parts.append("not in the article")
    if value.note:
        parts.append(value.note)
    if parts:
        out.append(f"{pad}# {'; '.join(parts)}")


def _scalar(value: Value) -> str:
    return json.dumps(value.marked(), ensure_ascii=False)


def _wrapped(text: str, first: str, rest: str | None = None, width: int = 96) -> list[str]:
    rest = first if rest is None else rest
    lines: list[str] = []
    line = first
    for word in text.split():
        if len(line) + len(word) + 1 > width and line.strip("# -"):
            lines.append(line.rstrip())
            line = rest
        line += ("" if line.endswith((" ", "- ")) else " ") + word
    if line.strip("# -"):
        lines.append(line.rstrip())
    return lines
