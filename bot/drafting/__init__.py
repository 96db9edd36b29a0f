"""``fitbot kb draft ARTICLE.txt [--out DIR]``: draft knowledge files from an article.

:mod:`bot.drafting.article` reads the article's structure, :mod:`bot.drafting.extract` (and
:mod:`bot.drafting.compare` for "A vs. B" articles) fills the knowledge schema's fields from it,
:mod:`bot.drafting.emit` writes them as YAML with where each value came from. Nothing is
published: every sentence is marked for the coach to rewrite, every gap is a TODO or listed.

``--out DIR`` is a knowledge directory (default ``drafts/``): the draft goes to
``DIR/exercises/<id>.yaml`` (``topics/`` for a topic); when ``DIR`` has no ``sources.yaml`` and
``language.yaml`` yet, they are made (the article as the only source, the language file of the
knowledge base in use), so ``fitbot kb check DIR`` checks the draft on its own; an existing
``sources.yaml`` gets the article added.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.drafting.article import Article, parse
from bot.drafting.compare import draft_comparison, is_comparison
from bot.drafting.emit import record_yaml
from bot.drafting.extract import Drafter
from bot.drafting.model import DraftRecord, slug
from bot.errors import ConfigError
from bot.knowledge import RECORD_DIRS, default_knowledge_dir
from bot.knowledge_files import parse as parse_yaml
from bot.review import is_marked
from bot.schema import SourcesFile


@dataclass(frozen=True)
class Draft:
    """What one article gave: its id and title for ``sources.yaml``, and the records."""

    article_id: str
    title: str
    file: str
    records: tuple[DraftRecord, ...]


def draft_text(text: str, file_name: str) -> Draft:
    """Draft records from the article ``text`` (``file_name`` names it in sources.yaml)."""
    article = parse(text)
    article_id = slug(Path(file_name).stem)
    records = _records(article, article_id)
    return Draft(article_id, article.title, file_name, tuple(records))


def _records(article: Article, article_id: str) -> list[DraftRecord]:
    if is_comparison(article):
        return draft_comparison(article, article_id)
    return [Drafter(article, article_id).draft()]


def write_draft(
    draft: Draft, out: Path, *, language_from: Path, force: bool = False
) -> list[Path]:
    """Write ``draft`` into the knowledge directory ``out``; return the record files written.

    Raises :class:`ConfigError` if a record file exists (unless ``force``) or the directory
    cannot be prepared.
    """
    targets = [out / _folder(record) / f"{record.id}.yaml" for record in draft.records]
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing)
        raise ConfigError(f"{names} already exist(s); pass --force to overwrite")
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not (out / "language.yaml").exists():
            shutil.copyfile(language_from / "language.yaml", out / "language.yaml")
        _add_source(out / "sources.yaml", draft)
        for record, path in zip(draft.records, targets, strict=True):
            path.parent.mkdir(exist_ok=True)
            path.write_text(record_yaml(record, f'"{draft.file}"'), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the draft to {out}: {exc}") from exc
    return targets


def _folder(record: DraftRecord) -> str:
    return next(folder for folder, kind in RECORD_DIRS.items() if kind == record.kind)


def _add_source(path: Path, draft: Draft) -> None:
    """Add the article to ``sources.yaml`` (made if missing), unless it is there already."""
    entry = (
        f"  - id: {draft.article_id}\n"
        f"    title: {_quoted(draft.title)}\n"
        f"    file: {_quoted(draft.file)}\n"
    )
    if not path.exists():
        path.write_text(
            "# The articles every fact comes from (made by fitbot kb draft).\narticles:\n" + entry,
            encoding="utf-8",
        )
        return
    data = parse_yaml(path.read_text(encoding="utf-8")) or {}
    known = SourcesFile.model_validate(data) if data else None
    if known is not None and any(a.id == draft.article_id for a in known.articles):
        return
    text = path.read_text(encoding="utf-8")
    path.write_text(text + ("" if text.endswith("\n") else "\n") + entry, encoding="utf-8")


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def run_draft(args: argparse.Namespace) -> int:
    """``fitbot kb draft``: 0 with the files written, 2 when the article cannot be read or the
    draft cannot be written."""
    try:
        text = Path(args.article).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"fitbot kb draft: cannot read {args.article}: {exc}", file=sys.stderr)
        return 2
    draft = draft_text(text, Path(args.article).name)
    language = args.knowledge or default_knowledge_dir()
    try:
        written = write_draft(draft, Path(args.out), language_from=language, force=args.force)
    except ConfigError as exc:
        print(f"fitbot kb draft: {exc}", file=sys.stderr)
        return 2
    for record, path in zip(draft.records, written, strict=True):
        marks = sum(1 for _ in _marked(record))
        print(f"wrote {path}: {marks} value(s) to review; not found: {', '.join(record.unfilled)}")
    print(
        f"Review every REWRITE:/TODO: mark, then `fitbot kb check {args.out} --strict`; "
        "copy the files into the knowledge base and add the article to its sources.yaml."
    )
    return 0


def _marked(record: DraftRecord) -> list[str]:
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str) and is_marked(value):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(record.data())
    return found
