"""Comparison articles ("Squat vs. Hip Hinge: ..."): a topic record for the comparison and an
exercise record for each side.

Such articles mostly talk in prose about both sides at once, so each sentence is given to the
side it is about: the side it names (by the stem of the side's last word: "hinging" is the hip
hinge), else the side(s) the sentences before it in the same section named. Then:

* a numbered list of steps belongs to the side its heading names, else to the first side that
  has no steps yet (a page that shows one exercise card per side, the first one untitled);
* a muscle named in a sentence that says what works it ("targets", "loads", "activates",
  "beneficial for") belongs to the last side named before it in that sentence; a muscle a
  side's steps brace or hold steady is one of its stabilisers;
* warnings go to the sides they are about (both, when the sentence names both or neither);
* mistakes come from prose: "Most people ..." followed by what "we want" instead, or "If
  you're ..., you're not ..." followed by "But by ...".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.drafting.article import TITLE_SEPARATOR, Article, ItemList, Paragraph, Section
from bot.drafting.extract import Roled, defines, name_pattern, prose_mistakes, roles
from bot.drafting.language import (
    STABILISER_CUES,
    is_caution,
    is_instruction,
    muscles_in,
    sentences,
)
from bot.drafting.model import (
    DraftRecord,
    Value,
    Where,
    plural,
    sentence_case,
    singular,
    slug,
    todo,
)
from bot.text import stem

WORKS = re.compile(
    r"\b(target\w*|works?|load\w*|activat\w*|train\w*|strengthen\w*|engag\w*|hits?|fires?|"
    r"recruit\w*|beneficial for|more in the)\b",
    re.IGNORECASE,
)
# After a word used as a verb on something ("press the bar", "hinge back", "squat down").
VERB_OBJECT = re.compile(
    r"\s+(the|your|a|an|it|them|this|that|back|up|down|through|into|onto|away)\b", re.I
)
BRACE = re.compile(r"\b(brac\w*|tighten\w*|stabili[sz]\w*|steady)\b", re.IGNORECASE)
MAX_POINT_PARAGRAPHS = 3
SKIPPED_ROLES = ("noise", "faq")


def is_comparison(article: Article) -> bool:
    """Whether the article compares two things ("Squat vs. Hip Hinge: ...")."""
    return len(sides_of(article.title)) == 2


def sides_of(title: str) -> list[str]:
    """The two things a title compares, singular, in sentence case; [] if it compares none."""
    head = TITLE_SEPARATOR.split(title, maxsplit=1)[0]
    parts = re.split(r"\s+(?:vs\.?|versus)\s+", head, flags=re.IGNORECASE)
    if len(parts) != 2 or not all(p.strip() for p in parts):
        return []
    out = []
    for part in parts:
        words = part.strip().split()
        words[-1] = singular(words[-1])
        out.append(sentence_case(" ".join(words)))
    return out


@dataclass(eq=False)
class Side:
    """What is drafted for one side."""

    name: str
    source: str
    stem: str = ""
    head: str = ""
    steps: list[Value] = field(default_factory=list)
    tips: list[Value] = field(default_factory=list)
    method_where: Where | None = None
    muscles: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"primary": [], "stabilisers": []}
    )
    cautions: list[Value] = field(default_factory=list)
    mistakes: list[dict[str, Any]] = field(default_factory=list)
    summary: Value | None = None
    head_as_noun: Where | None = None  # where the last word names it alone ("a hinge is")
    seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.head = self.name.split()[-1].lower()
        self.stem = stem(self.head)

    def add_muscle(self, role: str, name: str, detail: Value | None, where: Where) -> None:
        key = " ".join(singular(w) for w in name.lower().split())
        if key in self.seen:
            return
        self.seen.add(key)
        muscle: dict[str, Any] = {"name": Value(name.lower(), where, rewrite=False)}
        if detail is not None:
            muscle["detail"] = detail
        self.muscles[role].append(muscle)

    def add(self, into: list[Value], value: Value) -> None:
        if value.text.lower() not in self.seen:
            self.seen.add(value.text.lower())
            into.append(value)


def draft_comparison(article: Article, source: str) -> list[DraftRecord]:
    """A topic record for the comparison and one exercise record per side."""
    sides = [Side(name, source) for name in sides_of(article.title)]
    roled = [r for r in roles(article) if r.role not in SKIPPED_ROLES]
    for part in roled:
        _section(part, sides)
    title = Where("(title)", article.title_line, article.title_line)
    return [_topic(article, source, sides, roled), *(_exercise(side, title) for side in sides)]


def _mentioned(sentence: str, sides: list[Side]) -> list[tuple[int, Side]]:
    """(position, side) of every mention of a side in ``sentence``, in order: its full name
    ("push-ups", "hip hinge"), or its last word in any form ("hinging") when that word is not
    used as a verb on something ("press the bar", "hinge back")."""
    found: dict[int, Side] = {}
    spans: list[tuple[int, int]] = []
    for side in sides:
        for match in re.finditer(name_pattern(side.name), sentence, re.IGNORECASE):
            found[match.start()] = side
            spans.append(match.span())
    for match in re.finditer(r"[A-Za-z]+", sentence):
        if any(a <= match.start() < b for a, b in spans):
            continue
        word = stem(match.group(0).lower())
        for side in sides:
            if word == side.stem and not VERB_OBJECT.match(sentence[match.end() :]):
                found[match.start()] = side
    return sorted(found.items(), key=lambda item: item[0])


def _section(part: Roled, sides: list[Side]) -> None:
    section = part.section
    named = [s for s in sides if section.heading and _mentioned(section.heading, [s])]
    context = named if len(named) == 1 else list(sides)
    # A section headed by a side's own name is about that side alone.
    own = [s for s in sides if section.heading and _is_name(section.heading, s)]
    for block in section.blocks:
        if isinstance(block, ItemList):
            if block.numbered:
                _steps(block, section, named, sides)
            continue
        where = Where(section.name, block.first, block.last)
        parts = sentences(block.text)
        for sentence in parts:
            mentions = _mentioned(sentence, sides)
            if mentions:
                context = list(dict.fromkeys(side for _, side in mentions))
            _muscles(sentence, mentions, where)
            if is_caution(sentence):
                for side in context:
                    side.add(side.cautions, Value(sentence, where))
            for side in sides:
                if side.summary is None and _defines(sentence, side):
                    side.summary = Value(sentence, where)
                alone = rf"\b(a|an|the)\s+{re.escape(side.head)}\b"
                if (
                    side.head_as_noun is None
                    and side.head != side.name.lower()
                    and re.search(alone, sentence, re.IGNORECASE)
                ):
                    side.head_as_noun = where
            if own and is_instruction(sentence):
                own[0].add(own[0].tips, Value(sentence, where))
        for mistake, fix in prose_mistakes(parts):
            about = [side for _, side in _mentioned(f"{mistake} {fix}", sides)][:1] or context
            for side in about:
                side.mistakes.append({"mistake": Value(mistake, where), "fix": Value(fix, where)})


def _is_name(heading: str, side: Side) -> bool:
    name = " ".join(singular(w) for w in heading.lower().split())
    return name == side.name.lower()


def _defines(sentence: str, side: Side) -> bool:
    return defines(sentence, side.name) or (len(side.head) > 3 and defines(sentence, side.head))


def _steps(block: ItemList, section: Section, named: list[Side], sides: list[Side]) -> None:
    owner = named[0] if len(named) == 1 else next((s for s in sides if not s.steps), None)
    if owner is None:
        return
    owner.method_where = Where(section.name, block.first, block.first)
    for item in block.items:
        where = Where(section.name, item.first, item.last)
        owner.add(owner.steps, Value(item.text, where))
        for brace in BRACE.finditer(item.text):
            # "bracing your core": the muscle right after the word that holds it steady
            near = item.text[brace.end() : brace.end() + 25]
            for mention in muscles_in(near):
                owner.add_muscle("stabilisers", mention.name, None, where)


def _muscles(sentence: str, mentions: list[tuple[int, Side]], where: Where) -> None:
    if not mentions or not WORKS.search(sentence):
        return
    for muscle in muscles_in(sentence):
        before = [side for position, side in mentions if position < muscle.start]
        if not before:
            continue
        side = before[-1]
        clause = sentence[max(0, muscle.start - 40) : muscle.end]
        role = "stabilisers" if STABILISER_CUES.search(clause) else "primary"
        detail = Value(muscle.detail, where) if muscle.detail else None
        side.add_muscle(role, muscle.name, detail, where)


def _exercise(side: Side, title: Where) -> DraftRecord:
    record = DraftRecord(slug(side.name), "exercise")
    where = side.method_where
    aliases = [Value(plural(side.name.lower()), title, rewrite=False)]
    if side.head_as_noun is not None:
        note = "the name's last word, used on its own"
        aliases.append(Value(side.head, side.head_as_noun, rewrite=False, note=note))
    fields: dict[str, Any] = {
        "name": Value(side.name, title, rewrite=False),
        "aliases": aliases,
        "source": side.source,
        "summary": side.summary or todo("what it is, in a sentence or two"),
        "muscles": {k: v for k, v in side.muscles.items() if v} or None,
        "methods": [
            {
                "name": Value(side.name, where, rewrite=False),
                "steps": side.steps,
                "tips": side.tips,
            }
        ]
        if side.steps
        else [],
        "mistakes": side.mistakes,
        "cautions": side.cautions,
    }
    record.fields = fields
    record.unfilled = [k for k in ("muscles", "methods", "mistakes", "cautions") if not fields[k]]
    record.unfilled += [
        "facts", "checklist", "avoid_if", "alternatives", "variations", "benefits", "suits",
        "programming", "faq", "keywords", "movement", "level", "difficulty", "equipment",
        "related",
    ]  # fmt: skip
    if side.summary is None:
        record.unfilled.insert(0, "summary (required)")
    record.hints.append(
        "drafted from a comparison article: check each value is about this exercise"
    )
    return record


def _topic(article: Article, source: str, sides: list[Side], roled: list[Roled]) -> DraftRecord:
    title = Where("(title)", article.title_line, article.title_line)
    a, b = (s.name.lower() for s in sides)
    name = f"{sides[0].name} vs. {b}"
    aliases = [f"{a} vs {b}", f"{b} vs {a}", f"{a} or {b}", f"{a} versus {b}"]
    summary = None
    points = []
    for part in roled:
        paragraphs = [blk for blk in part.section.blocks if isinstance(blk, Paragraph)]
        for paragraph in paragraphs:
            for sentence in sentences(paragraph.text):
                both = len({side.name for _, side in _mentioned(sentence, sides)}) == 2
                if summary is None and both:
                    summary = Value(
                        sentence, Where(part.section.name, paragraph.first, paragraph.last)
                    )
        if part.role in ("what", "intro") and paragraphs:  # not the bottom line
            kept = paragraphs[:MAX_POINT_PARAGRAPHS]
            where = Where(part.section.name, kept[0].first, kept[-1].last)
            heading = part.section.heading
            points.append(
                {
                    "name": Value(
                        _point_name(heading),
                        Where(part.section.name, part.section.line, part.section.line),
                        rewrite=False,
                    )
                    if heading
                    else todo("a short name"),
                    "text": Value(" ".join(p.text for p in kept), where),
                }
            )
    record = DraftRecord(slug(name), "topic")
    record.fields = {
        "name": Value(name, title, rewrite=False),
        "aliases": [Value(alias, title, rewrite=False) for alias in aliases],
        "source": source,
        "summary": summary or todo("what the comparison is about"),
        "points": points,
        "related": [slug(side.name) for side in sides],
    }
    record.unfilled = ["facts", "keywords", "faq"]
    return record


def _point_name(heading: str) -> str:
    """A point's name from its heading, without a leading "A vs. B:"."""
    parts = TITLE_SEPARATOR.split(heading, maxsplit=1)
    if len(parts) == 2 and re.search(r"\bvs\.?\s", parts[0], re.IGNORECASE):
        return parts[1].strip()
    return heading
