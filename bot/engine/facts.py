"""The knowledge base as retrievable facts: every item of every record on its own.

A record's sections (steps, checklist, mistakes...) are lists of items; each item becomes one
:class:`Fact` that retrieval ranks and composing can lead an answer with. Nothing here analyses
text: that is the retrieval index's job.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass

from bot.schema import Note, Record

# A number, a fraction word or a number word: what a "how many / how long / how heavy"
# question needs in the fact that answers it.
QUANTITY_WORDS = frozenset(
    [
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "twelve",
        "fifteen",
        "twenty",
        "thirty",
        "half",
        "quarter",
        "double",
        "twice",
        "once",
        "percent",
    ]
)


class Section(enum.StrEnum):
    """The parts of a record an answer can show (and the asks a question can make)."""

    WHAT = "what"
    MUSCLES = "muscles"
    STEPS = "steps"
    CHECKLIST = "checklist"
    MISTAKES = "mistakes"
    CAUTIONS = "cautions"
    ALTERNATIVES = "alternatives"
    BENEFITS = "benefits"
    VARIATIONS = "variations"
    PROGRAMMING = "programming"

    @property
    def label(self) -> str:
        """How the section is headed in answers and on buttons."""
        return LABELS[self]


LABELS = {
    Section.WHAT: "What it is",
    Section.MUSCLES: "Muscles",
    Section.STEPS: "Steps",
    Section.CHECKLIST: "Form checklist",
    Section.MISTAKES: "Mistakes",
    Section.CAUTIONS: "Cautions",
    Section.ALTERNATIVES: "Alternatives",
    Section.BENEFITS: "Benefits",
    Section.VARIATIONS: "Variations",
    Section.PROGRAMMING: "Programming",
}
# The order follow-up buttons are offered in: the sections a person most often wants next.
FOLLOW_UP_ORDER = (
    Section.STEPS,
    Section.CHECKLIST,
    Section.MISTAKES,
    Section.CAUTIONS,
    Section.ALTERNATIVES,
    Section.MUSCLES,
    Section.BENEFITS,
    Section.VARIATIONS,
    Section.PROGRAMMING,
    Section.WHAT,
)


class Kind(enum.Enum):
    """What an item is within its section."""

    SUMMARY = "summary"
    FACT = "fact"
    PROFILE = "profile"
    PRIMARY = "primary muscle"
    STABILISER = "stabiliser"
    MUSCLE_NOTE = "muscle note"
    SETUP = "setup"
    STEP = "step"
    TIP = "tip"
    CUE = "cue"
    MISTAKE = "mistake"
    CAUTION = "caution"
    AVOID = "avoid"
    ALTERNATIVE = "alternative"
    VARIATION = "variation"
    BENEFIT = "benefit"
    SUITS = "suits"
    PROGRAMMING = "programming"
    POINT = "point"
    FAQ = "faq"


@dataclass(frozen=True, slots=True)
class Fact:
    """One retrievable item of knowledge.

    ``text`` is what an answer shows; ``about`` is extra text that says what the item is about
    without being shown (the section's name, a muscle's other names, a FAQ's question and its
    phrasings); ``questions`` are the questions the knowledge says it answers. ``method`` is the
    variant (cable, band...) a step belongs to; ``position`` its place in its list.
    """

    record: str
    section: Section
    kind: Kind
    position: int
    text: str
    source: str
    about: str = ""
    questions: tuple[str, ...] = ()
    method: int | None = None
    stance: str | None = None
    intent: str | None = None
    situations: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, int, int]:
        """A stable identity within one knowledge base (kept in a chat's context)."""
        return (self.record, self.kind.value, self.method or 0, self.position)


def facts_of(record: Record) -> Iterator[Fact]:
    """Every item of ``record`` as a :class:`Fact`, in the record's own order."""
    rid, src = record.id, record.source

    def note(section: Section, kind: Kind, i: int, item: Note, **extra: object) -> Fact:
        return Fact(
            rid,
            section,
            kind,
            i,
            item.text,
            item.source or src,
            questions=item.questions,
            **extra,  # type: ignore[arg-type]
        )

    names = " ".join((record.name, *record.aliases))
    yield Fact(rid, Section.WHAT, Kind.SUMMARY, 0, record.summary, src, about=names)
    for i, item in enumerate(record.facts):
        yield note(Section.WHAT, Kind.FACT, i, item)
    profile = _profile(record)
    if profile:
        yield Fact(rid, Section.WHAT, Kind.PROFILE, 0, profile, src)
    for i, point in enumerate(record.points):
        yield Fact(
            rid,
            Section.WHAT,
            Kind.POINT,
            i,
            f"{point.name}: {point.text}",
            point.source or src,
            questions=point.questions,
        )
    yield from _muscles(record)
    for m, method in enumerate(record.methods):
        msrc = method.source or src
        about = " ".join((method.name, *method.equipment))
        for kind, items in ((Kind.SETUP, method.setup), (Kind.STEP, method.steps)):
            for i, item in enumerate(items):
                yield Fact(
                    rid,
                    Section.STEPS,
                    kind,
                    i,
                    item.text,
                    item.source or msrc,
                    about=about,
                    questions=item.questions,
                    method=m,
                )
        for i, item in enumerate(method.tips):
            yield Fact(
                rid,
                Section.STEPS,
                Kind.TIP,
                i,
                item.text,
                item.source or msrc,
                about=about,
                questions=item.questions,
                method=m,
            )
    for i, item in enumerate(record.checklist):
        yield note(Section.CHECKLIST, Kind.CUE, i, item)
    for i, mistake in enumerate(record.mistakes):
        yield Fact(
            rid,
            Section.MISTAKES,
            Kind.MISTAKE,
            i,
            f"{mistake.mistake} Fix: {mistake.fix}",
            mistake.source or src,
            questions=mistake.questions,
        )
    if record.level:
        yield Fact(
            rid,
            Section.CAUTIONS,
            Kind.CAUTION,
            -1,
            f"Level: {record.level}.",
            src,
            about="level difficulty beginner novice advanced suitable who can do it",
        )
    for i, item in enumerate(record.cautions):
        yield note(Section.CAUTIONS, Kind.CAUTION, i, item)
    for i, avoid in enumerate(record.avoid_if):
        yield Fact(
            rid,
            Section.CAUTIONS,
            Kind.AVOID,
            i,
            f"{avoid.who}: {avoid.why}",
            avoid.source or src,
            about="avoid skip careful who should not",
            questions=avoid.questions,
        )
    for i, alt in enumerate(record.alternatives):
        target = alt.name or (alt.exercise or "").replace("-", " ")
        yield Fact(
            rid,
            Section.ALTERNATIVES,
            Kind.ALTERNATIVE,
            i,
            alt.why,
            alt.source or src,
            about=target,
            questions=alt.questions,
            situations=alt.situations,
        )
    for i, var in enumerate(record.variations):
        yield Fact(
            rid,
            Section.VARIATIONS,
            Kind.VARIATION,
            i,
            f"{var.name}: {var.text}",
            var.source or src,
            about=var.direction,
            questions=var.questions,
        )
    for i, benefit in enumerate(record.benefits):
        yield Fact(
            rid,
            Section.BENEFITS,
            Kind.BENEFIT,
            i,
            f"{benefit.name}: {benefit.text}",
            benefit.source or src,
            questions=benefit.questions,
        )
    for i, item in enumerate(record.suits):
        yield note(Section.BENEFITS, Kind.SUITS, i, item, about="who is it for suits")
    for i, point in enumerate(record.programming):
        yield Fact(
            rid,
            Section.PROGRAMMING,
            Kind.PROGRAMMING,
            i,
            f"{point.name}: {point.text}",
            point.source or src,
            questions=point.questions,
        )
    for i, faq in enumerate(record.faq):
        yield Fact(
            rid,
            Section(faq.intent) if faq.intent != "comparison" else Section.WHAT,
            Kind.FAQ,
            i,
            faq.a,
            faq.source or src,
            questions=(faq.q, *faq.also),
            stance=faq.stance,
            intent=faq.intent,
        )


def _profile(record: Record) -> str:
    parts = []
    if record.movement:
        parts.append(f"Type: {record.movement} movement.")
    if record.level:
        parts.append(f"Level: {record.level}.")
    if record.equipment:
        parts.append("Equipment: " + "; ".join(record.equipment) + ".")
    return " ".join(parts)


def _muscles(record: Record) -> Iterator[Fact]:
    m = record.muscles
    if m is None:
        return
    for kind, group in ((Kind.PRIMARY, m.primary), (Kind.STABILISER, m.stabilisers)):
        role = "main muscle worked" if kind is Kind.PRIMARY else "stabiliser"
        for i, muscle in enumerate(group):
            text = muscle.name.capitalize() + (f" ({muscle.detail})" if muscle.detail else "")
            yield Fact(
                record.id,
                Section.MUSCLES,
                kind,
                i,
                text,
                record.source,
                about=" ".join((role, *muscle.aliases)),
            )
    if m.note:
        yield Fact(record.id, Section.MUSCLES, Kind.MUSCLE_NOTE, 0, m.note, record.source)


def has_section(record: Record, section: Section) -> bool:
    """Whether ``record`` holds anything for ``section``."""
    return any(f.section is section and f.kind is not Kind.FAQ for f in facts_of(record))


def has_quantity(text: str, numbers: frozenset[str] = QUANTITY_WORDS) -> bool:
    """Whether ``text`` states an amount (a digit, a number word, "half")."""
    return any(c.isdigit() for c in text) or bool(set(text.lower().split()) & numbers)
