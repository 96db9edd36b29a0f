"""What to add next: for each group of unanswered questions, the nearest knowledge and a YAML
snippet the coach can review and paste (``fitbot report unanswered --suggest``).

Each phrasing of a group is read by the engine's own stages (analysis, recognition, the query
retrieval ranks by, see :mod:`bot.engine`) and matched to the knowledge item that covers most of
what it asks: within the records it names, else anywhere. The group's suggestion is the item
most of its questions point to:

* ``questions``: an item covers at least :data:`COVERS_ITEM` of the question's words (weighted
  by how telling they are), so the knowledge is there but phrased otherwise: the item again,
  with the group's phrasings added to its ``questions`` (``also`` for a FAQ);
* ``faq``: the question names a record but no item of it covers the ask: a new FAQ for that
  record, the section it asks for as its intent;
* ``record`` ("new topic"): nothing covers it: a stub record named after the group's content
  words (or the uncovered exercise it names).

Nothing is written anywhere: every snippet is printed, with :data:`~bot.review.TODO` marks where
the coach must write, so ``fitbot kb check --strict`` refuses a pasted snippet left unfinished.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.context import Context
from bot.engine import Engine
from bot.engine.facts import Fact, Kind, Section
from bot.engine.recognise import Ask, Recognition
from bot.engine.retrieve import Ranked
from bot.knowledge import RECORD_DIRS, default_knowledge_dir, load_knowledge
from bot.review import TODO
from bot.schema import Record
from bot.text import words
from bot.unanswered import STOPWORDS, Group

# Share of a question's weighted words an item must cover to count as answering it already (in
# a record the question names; anywhere, when it names none), and the least weight the covered
# words must have: one everyday word ("day") is not enough.
COVERS_ITEM = 0.5
COVERS_ANYWHERE = 0.75
COVERED_WEIGHT = 0.45
MAX_PHRASINGS = 8
NEW_TOPIC = "new topic"
FIELD_OF_KIND = {
    Kind.FACT: "facts",
    Kind.CUE: "checklist",
    Kind.MISTAKE: "mistakes",
    Kind.CAUTION: "cautions",
    Kind.AVOID: "avoid_if",
    Kind.ALTERNATIVE: "alternatives",
    Kind.VARIATION: "variations",
    Kind.BENEFIT: "benefits",
    Kind.SUITS: "suits",
    Kind.PROGRAMMING: "programming",
    Kind.POINT: "points",
    Kind.FAQ: "faq",
}
METHOD_PARTS = {Kind.SETUP: "setup", Kind.STEP: "steps", Kind.TIP: "tips"}
SuggestionKind = Literal["questions", "faq", "record"]


@dataclass(frozen=True)
class Nearest:
    """Where one question points in the knowledge base."""

    record: str | None
    section: str | None
    fact: Fact | None  # the item covering the question, if one covers enough
    uncovered: str | None = None  # an exercise the question names that no record covers


@dataclass(frozen=True)
class Suggestion:
    """What to add for one group, and where."""

    kind: SuggestionKind
    record: str | None  # the record to change (for "record", the stub's id)
    section: str | None
    file: str  # relative to the knowledge directory
    field: str | None  # the item to replace (kind "questions"), the list to add to ("faq")
    snippet: str  # YAML, ready to paste

    @property
    def nearest(self) -> str:
        """ "record / section", or "new topic"."""
        if self.kind == "record" or self.record is None:
            return NEW_TOPIC
        return f"{self.record} / {self.section}" if self.section else self.record


class Suggester:
    """Suggestions from one engine's knowledge base."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.kb = engine.kb

    def nearest(self, text: str) -> Nearest:
        """The knowledge ``text`` points to."""
        e = self.engine
        rec = e.recogniser.recognise(e.analyzer.analyse(text))
        named = rec.records
        query = e.interpreter.subjects.query(rec, Context(), {r: 1.0 for r in named})
        top: Ranked | None
        if named:
            ranked = e.index.rank(query, limit=1)
            top = ranked[0] if ranked else None
        else:
            top = e.index.best_anywhere(query)
        uncovered = rec.uncovered[0].name if rec.uncovered else None
        fact = top.fact if top is not None and self._covers(top, rec, query.topic) else None
        if fact is not None and (not named or fact.record in named):
            return Nearest(fact.record, fact.section.value, fact, uncovered)
        section = _asked_section(rec, top.fact if top is not None else None)
        if named:
            return Nearest(named[0], section, None, uncovered)
        return Nearest(None, section, None, uncovered)

    @staticmethod
    def _covers(top: Ranked, rec: Recognition, topic: dict[str, float] | Any) -> bool:
        """Whether ``top`` already answers the question: it covers enough of its words, and
        belongs to the section the question clearly asks for, if it asks for one ("how many
        sets?" is not answered by the step "repeat for your sets")."""
        if rec.uncovered and not rec.records:
            return False  # "hip thrust or glute bridge?": an exercise we do not cover
        needed = COVERS_ITEM if rec.records else COVERS_ANYWHERE
        if top.covers < needed or top.covers * sum(topic.values()) < COVERED_WEIGHT:
            return False
        asked = {a.value for a in rec.clear_asks if a is not Ask.COMPARISON}
        return not asked or top.fact.section.value in asked

    def suggest(self, group: Group) -> Suggestion:
        """The suggestion for ``group``: what most of its questions point to."""
        votes: Counter[tuple[str | None, str | None, tuple[str, str, int, int] | None]] = Counter()
        found: dict[tuple[str, str, int, int] | None, Nearest] = {}
        uncovered: str | None = None
        for text, count in group.phrasings:
            near = self.nearest(text)
            key = near.fact.key if near.fact is not None else None
            votes[(near.record, near.section, key)] += count
            found.setdefault(key, near)
            uncovered = uncovered or near.uncovered
        (record, section, key), _ = votes.most_common(1)[0]
        phrasings = _phrasings(group)
        if record is not None and key is not None:
            fact = found[key].fact
            assert fact is not None
            return self._more_questions(self.kb.records[record], fact, phrasings)
        if record is not None:
            return self._faq(self.kb.records[record], section or Section.WHAT.value, phrasings)
        return self._stub(group, section, uncovered, phrasings)

    # -- the three kinds -------------------------------------------------------------------

    def _more_questions(self, record: Record, fact: Fact, phrasings: list[str]) -> Suggestion:
        located = _locate(record, fact)
        if located is None:  # the summary, a muscle: no questions field; a FAQ instead
            return self._faq(record, fact.section.value, phrasings)
        field, item = located
        key = "also" if fact.kind is Kind.FAQ else "questions"
        known = list(item.get(key, ()))
        seen = {q.lower() for q in known} | {record.name.lower()}
        added = [q for q in phrasings if q.lower() not in seen]
        item = {**item, key: known + added}
        return Suggestion(
            "questions",
            record.id,
            fact.section.value,
            _file(record),
            field,
            dump_yaml([item]),
        )

    def _faq(self, record: Record, section: str, phrasings: list[str]) -> Suggestion:
        intent = section if section in _INTENTS else Section.WHAT.value
        faq: dict[str, Any] = {"q": phrasings[0]}
        if phrasings[1:]:
            faq["also"] = phrasings[1:]
        faq["a"] = f"{TODO} write the answer, from the source article of this record"
        faq["intent"] = intent
        snippet = dump_yaml({"faq": [faq]})
        return Suggestion("faq", record.id, section, _file(record), "faq", snippet)

    def _stub(
        self, group: Group, section: str | None, uncovered: str | None, phrasings: list[str]
    ) -> Suggestion:
        name = uncovered or _topic_name(group.example)
        kind = "exercise" if uncovered else "topic"
        rid = _slug(name)
        stub: dict[str, Any] = {
            "id": rid,
            "kind": kind,
            "name": name[:1].upper() + name[1:],
            "source": "todo-article-id",
            "summary": f"{TODO} write what it is, in a sentence or two, from its source article",
            "faq": [
                {
                    "q": phrasings[0],
                    **({"also": phrasings[1:]} if phrasings[1:] else {}),
                    "a": f"{TODO} write the answer, from the source article",
                    "intent": section if section in _INTENTS else Section.WHAT.value,
                }
            ],
        }
        folder = "exercises" if kind == "exercise" else "topics"
        head = (
            "# A stub: add the article to sources.yaml and set `source` to its id; fill in "
            "every TODO.\n"
        )
        snippet = head + dump_yaml(stub)
        return Suggestion("record", rid, section, f"{folder}/{rid}.yaml", None, snippet)


_INTENTS = frozenset(s.value for s in Section) | {"comparison"}


def _asked_section(rec: Recognition, fact: Fact | None) -> str | None:
    """The section a question asks for: its strongest ask, else the nearest item's."""
    asks = {a: w for a, w in rec.asks.items() if a is not Ask.COMPARISON and w > 0}
    if asks:
        return str(max(asks, key=lambda a: asks[a]).value)
    return fact.section.value if fact is not None else None


def _locate(record: Record, fact: Fact) -> tuple[str, dict[str, Any]] | None:
    """The field path of ``fact`` in its record file and the item as YAML data; None for an
    item that cannot take questions (the summary, muscles, a derived profile)."""
    data = record.model_dump(mode="json", exclude_defaults=True)
    position = fact.position
    if fact.kind in METHOD_PARTS and fact.method is not None:
        part = METHOD_PARTS[fact.kind]
        field = f"methods[{fact.method}].{part}[{position}]"
        items = data["methods"][fact.method].get(part, [])
    elif fact.kind in FIELD_OF_KIND and position >= 0:
        name = FIELD_OF_KIND[fact.kind]
        field = f"{name}[{position}]"
        items = data.get(name, [])
    else:
        return None
    if position >= len(items):
        return None
    item = items[position]
    return field, item if isinstance(item, dict) else {"text": item}


def _phrasings(group: Group) -> list[str]:
    """The group's phrasings as a knowledge file writes questions: lower case, no final
    punctuation, each once, most asked first."""
    out: list[str] = []
    for text, _ in group.phrasings:
        cleaned = re.sub(r"\s+", " ", text).strip().rstrip("?!. ").lower()
        if cleaned and cleaned not in out:
            out.append(cleaned)
    return out[:MAX_PHRASINGS]


def _topic_name(text: str) -> str:
    content = [w for w in words(text) if w not in STOPWORDS and not w.isdigit()]
    return " ".join(content[:4]) or "new topic"


def _slug(name: str) -> str:
    return "-".join(words(name)) or "new-topic"


def _file(record: Record) -> str:
    folder = next(f for f, kind in RECORD_DIRS.items() if kind == record.kind)
    return f"{folder}/{record.id}.yaml"


class _Dumper(yaml.SafeDumper):
    """Lists indented under their key, as the knowledge files write them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def dump_yaml(data: object) -> str:
    """``data`` as YAML in the knowledge files' style."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=96,
        default_flow_style=False,
    )


def suggestions(engine: Engine, groups: Sequence[Group]) -> list[Suggestion]:
    """One suggestion per group, in the groups' order."""
    suggester = Suggester(engine)
    return [suggester.suggest(group) for group in groups]


def suggestion_lines(suggestion: Suggestion, knowledge: Path) -> list[str]:
    """The lines under a group in the text report."""
    where = knowledge / suggestion.file
    action = {
        "questions": f"add its phrasings to {suggestion.field} of {where} (replace the item):",
        "faq": f"a new FAQ for {where} (add it under faq:):",
        "record": f"a stub record for {where}:",
    }[suggestion.kind]
    snippet = [f"            {line}" if line else "" for line in suggestion.snippet.splitlines()]
    return [
        f"        nearest: {suggestion.nearest}",
        f"        suggestion: {action}",
        "",
        *snippet,
    ]


def suggestion_json(suggestion: Suggestion) -> dict[str, Any]:
    """The suggestion's keys in the JSON report."""
    return {
        "suggestion": {
            "nearest": suggestion.nearest,
            "kind": suggestion.kind,
            "record": suggestion.record,
            "section": suggestion.section,
            "file": suggestion.file,
            "field": suggestion.field,
            "yaml": suggestion.snippet,
        }
    }


def for_report(
    directory: Path | None, groups: Sequence[Group]
) -> tuple[list[list[str]], list[dict[str, Any]]]:
    """Text lines and JSON keys of a suggestion for each group, from the knowledge base in
    ``directory`` (default: ``FITBOT_KNOWLEDGE`` or the shipped one)."""
    root = directory or default_knowledge_dir()
    found = suggestions(Engine(load_knowledge(root)), groups)
    return [suggestion_lines(s, root) for s in found], [suggestion_json(s) for s in found]
