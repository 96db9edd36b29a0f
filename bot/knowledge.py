"""Loading and validating the knowledge directory.

Layout: ``sources.yaml``, ``language.yaml``, ``exercises/*.yaml`` and ``topics/*.yaml`` (one
record per file, named after its id). Every problem found is collected and reported together,
each naming its file and field, so a coach can fix a broken edit in one pass; a flood of them
(a file of thousands of broken items) is cut to the first :data:`MAX_PROBLEMS`, each message to
a line, with the count of the rest. Files are read within the bounds of
:mod:`bot.knowledge_files` (regular files inside the directory, sizes, no YAML aliases).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bot.errors import KnowledgeError, Problem, short_repr
from bot.knowledge_files import DEFAULT_LIMITS, Limits, Reader, Unreadable
from bot.schema import ExerciseNamesFile, LanguageFile, Note, Record, SourcesFile
from bot.text import normalise

ENV_VAR = "FITBOT_KNOWLEDGE"
RECORD_DIRS = {"exercises": "exercise", "topics": "topic"}
# Problems kept and shown; the rest are only counted ("... and 120 more").
MAX_PROBLEMS = 100

M = TypeVar("M", bound=BaseModel)


class _Problems:
    """The problems found: the first :data:`MAX_PROBLEMS` kept, every one counted."""

    def __init__(self) -> None:
        self.kept: list[Problem] = []
        self.total = 0

    def append(self, problem: Problem) -> None:
        self.total += 1
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(problem)

    @property
    def full(self) -> bool:
        """Whether no more are kept."""
        return len(self.kept) >= MAX_PROBLEMS

    def count(self, more: int) -> None:
        """Count ``more`` problems that are not kept."""
        self.total += more

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.append(problem)

    def __bool__(self) -> bool:
        return self.total > 0


@dataclass(frozen=True)
class KnowledgeBase:
    """A validated knowledge base: articles, records by id (file order) and language data.

    ``exercise_names`` are names of exercises in general (``exercise-names.yaml``, optional),
    so that one we do not cover is recognised as such.
    """

    directory: Path
    articles: Mapping[str, str]
    records: Mapping[str, Record]
    language: LanguageFile
    exercise_names: tuple[str, ...] = ()

    def title(self, article_id: str) -> str:
        """The title of a source article."""
        return self.articles[article_id]


def default_knowledge_dir(env: Mapping[str, str] = os.environ) -> Path:
    """``FITBOT_KNOWLEDGE`` if set, else the ``knowledge/`` directory shipped with the project."""
    configured = env.get(ENV_VAR)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent / "knowledge"


def load_knowledge(directory: Path | str, limits: Limits = DEFAULT_LIMITS) -> KnowledgeBase:
    """Load and validate ``directory`` within ``limits``; raise :class:`KnowledgeError`
    listing every problem."""
    root = Path(directory)
    problems = _Problems()
    if not root.is_dir():
        raise KnowledgeError([Problem(str(root), "", "not a directory")])
    reader = Reader(root, limits)
    sources = _load_model(reader, root / "sources.yaml", SourcesFile, problems)
    language = _load_model(reader, root / "language.yaml", LanguageFile, problems)
    names_file = root / "exercise-names.yaml"
    names = (
        _load_model(reader, names_file, ExerciseNamesFile, problems)
        if names_file.exists()
        else None
    )
    loaded: list[tuple[str, str, Record]] = []
    broken: set[str] = set()  # ids of records that did not load: not reported again as missing
    for path, kind in _record_files(reader, root, problems):
        record = _load_model(reader, path, Record, problems)
        if record is None:
            broken.add(path.stem)
            continue
        name = _rel(path)
        if record.kind != kind:
            problems.append(
                Problem(name, "kind", f"is {record.kind!r} but the file is in {path.parent.name}/")
            )
        if record.id != path.stem:
            problems.append(Problem(name, "id", f"{record.id!r} does not match the file name"))
        loaded.append((name, path.stem, record))
    records, files = _by_id(loaded, problems)
    if not records and not problems:
        problems.append(Problem(str(root), "", "no records in exercises/ or topics/"))
    if sources is not None and language is not None:
        articles = {a.id: a.title for a in sources.articles}
        problems.extend(_cross_check(records, files, set(articles), language, broken))
    if problems or sources is None or language is None:
        raise KnowledgeError(problems.kept, problems.total)
    return KnowledgeBase(
        directory=root,
        articles=MappingProxyType({a.id: a.title for a in sources.articles}),
        records=MappingProxyType(records),
        language=language,
        exercise_names=names.names if names is not None else (),
    )


def _by_id(
    loaded: list[tuple[str, str, Record]], problems: _Problems
) -> tuple[dict[str, Record], dict[str, str]]:
    """Records by id, in file order. A record whose id is not its file name never takes the id
    from the file that is named after it: the duplicate is blamed on the newcomer."""
    owners: dict[str, str] = {}
    for name, stem, record in loaded:
        if record.id == stem:
            owners.setdefault(record.id, name)
    records: dict[str, Record] = {}
    files: dict[str, str] = {}
    for name, _, record in loaded:
        owner = owners.setdefault(record.id, name)
        if owner != name:
            problems.append(Problem(name, "id", f"{record.id!r} is already used by {owner}"))
            continue
        records[record.id] = record
        files[record.id] = name
    return records, files


def check_knowledge(directory: Path | str) -> list[Problem]:
    """The problems in ``directory`` (empty when it is valid), at most :data:`MAX_PROBLEMS`."""
    try:
        load_knowledge(directory)
    except KnowledgeError as exc:
        return list(exc.problems)
    return []


def _rel(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _record_files(reader: Reader, root: Path, problems: _Problems) -> Iterator[tuple[Path, str]]:
    for folder, kind in RECORD_DIRS.items():
        paths, more = reader.record_files(root / folder)
        if more:
            problems.append(
                Problem(
                    f"{folder}/",
                    "",
                    f"more than {reader.limits.record_files} files; the rest skipped",
                )
            )
        for path in paths:
            yield path, kind


def _load_model(reader: Reader, path: Path, model: type[M], problems: _Problems) -> M | None:
    name = _rel(path) if path.parent.name in RECORD_DIRS else path.name
    try:
        data = reader.load(path)
    except FileNotFoundError:
        problems.append(Problem(name, "", "file is missing"))
        return None
    except Unreadable as exc:
        problems.append(Problem(name, "", str(exc)))
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.append(Problem(name, "", f"invalid YAML{where}: {getattr(exc, 'problem', exc)}"))
        return None
    except (ValueError, RecursionError) as exc:  # e.g. a date 2024-13-45, a 5,000-digit number
        problems.append(Problem(name, "", f"invalid YAML value: {exc}"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(name, "", "must be a mapping of fields"))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        for shown, err in enumerate(errors):
            if problems.full:  # only counted from here: no need to word them
                problems.count(len(errors) - shown)
                break
            problems.append(Problem(name, _field_path(err["loc"]), _message(err)))
        return None


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":
            out += " (a key)"  # pydantic's marker for a mapping key that is wrong
        elif isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _message(err: Mapping[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "required field is missing"
    return f"{err['msg']} (got {short_repr(err.get('input'))})"


def _cross_check(
    records: Mapping[str, Record],
    files: Mapping[str, str],
    articles: set[str],
    language: LanguageFile,
    broken: set[str],
) -> Iterator[Problem]:
    situations = {s.id for s in language.situations}
    claimed: dict[str, str] = {}
    for rid, record in records.items():
        name = files[rid]
        if record.source not in articles:
            yield Problem(name, "source", f"unknown article {record.source!r}")
        for field, value in _item_sources(record):
            if value not in articles:
                yield Problem(name, field, f"unknown article {value!r}")
        for field, ref in _references(record):
            if ref not in records:
                if ref not in broken:
                    yield Problem(name, field, f"no record with id {ref!r}")
            elif ref == rid:
                yield Problem(name, field, "a record cannot refer to itself")
        for i, alt in enumerate(record.alternatives):
            for j, sit in enumerate(alt.situations):
                if sit not in situations:
                    yield Problem(
                        name, f"alternatives[{i}].situations[{j}]", f"unknown situation {sit!r}"
                    )
        for i, alias in enumerate((record.name, *record.aliases)):
            key = " ".join(normalise(alias).split())
            owner = claimed.setdefault(key, rid)
            if owner != rid:
                field = "name" if i == 0 else f"aliases[{i - 1}]"
                yield Problem(name, field, f"{alias!r} is already claimed by {files[owner]}")


def _item_sources(record: Record) -> Iterator[tuple[str, str]]:
    for field in ("facts", "checklist", "cautions", "suits"):
        notes: tuple[Note, ...] = getattr(record, field)
        for i, note in enumerate(notes):
            if note.source is not None:
                yield f"{field}[{i}].source", note.source
    for m, method in enumerate(record.methods):
        for part in ("setup", "steps", "tips"):
            for i, note in enumerate(getattr(method, part)):
                if note.source is not None:
                    yield f"methods[{m}].{part}[{i}].source", note.source
    for field in (
        "methods",
        "mistakes",
        "avoid_if",
        "alternatives",
        "variations",
        "benefits",
        "programming",
        "points",
        "faq",
        "distinct_from",
    ):
        for i, item in enumerate(getattr(record, field)):
            if item.source is not None:
                yield f"{field}[{i}].source", item.source


def _references(record: Record) -> Iterator[tuple[str, str]]:
    for i, alt in enumerate(record.alternatives):
        if alt.exercise is not None:
            yield f"alternatives[{i}].exercise", alt.exercise
    for i, var in enumerate(record.variations):
        if var.exercise is not None:
            yield f"variations[{i}].exercise", var.exercise
    for i, ref in enumerate(record.related):
        yield f"related[{i}]", ref
