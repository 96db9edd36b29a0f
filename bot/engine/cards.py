"""One section of a record as answer blocks, with the articles its items came from.

The composer leads an answer with the fact that answers the question; the section that fact
belongs to follows as a card built here, so the person sees the fact in its place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.answers import Block
from bot.engine.analyse import Analyzer
from bot.engine.facts import Section
from bot.knowledge import KnowledgeBase
from bot.schema import Muscle, Record


@dataclass(frozen=True)
class Card:
    """Blocks for one section plus the source article ids of what they show."""

    blocks: tuple[Block, ...]
    sources: tuple[str, ...]


def _first(items: Sequence[str], lead: int | None) -> tuple[str, ...]:
    """Items with the one at ``lead`` moved to the front."""
    if lead is None or not 0 <= lead < len(items):
        return tuple(items)
    return (items[lead], *items[:lead], *items[lead + 1 :])


def _src(record: Record, items: Iterable[object]) -> tuple[str, ...]:
    found = [getattr(i, "source", None) or record.source for i in items]
    return tuple(dict.fromkeys([record.source, *found]))


class Cards:
    """Builds section cards for the records of one knowledge base."""

    def __init__(
        self, kb: KnowledgeBase, analyzer: Analyzer, situation_labels: dict[str, str]
    ) -> None:
        self.kb = kb
        self.analyzer = analyzer
        self.labels = situation_labels

    def card(
        self,
        record: Record,
        section: Section,
        *,
        lead: int | None = None,
        method: int = 0,
        wanted: Sequence[str] = (),
    ) -> Card:
        """The card for ``section`` of ``record``; ``lead`` moves one item to the front."""
        build = {
            Section.WHAT: lambda: self.what(record, lead),
            Section.MUSCLES: lambda: self.muscles(record),
            Section.STEPS: lambda: self.steps(record, method),
            Section.CHECKLIST: lambda: self.listed(
                record,
                "Check on every rep",
                [n.text for n in record.checklist],
                lead,
                record.checklist,
            ),
            Section.MISTAKES: lambda: self.listed(
                record,
                "Common mistakes",
                [f"{m.mistake} Fix: {m.fix}" for m in record.mistakes],
                lead,
                record.mistakes,
            ),
            Section.CAUTIONS: lambda: self.cautions(record, lead),
            Section.ALTERNATIVES: lambda: self.alternatives(record, wanted),
            Section.BENEFITS: lambda: self.benefits(record, lead),
            Section.VARIATIONS: lambda: self.listed(
                record,
                "Variations and progressions",
                [f"{v.name}: {v.text}" for v in record.variations],
                lead,
                record.variations,
            ),
            Section.PROGRAMMING: lambda: self.listed(
                record,
                "Programming",
                [f"{p.name}: {p.text}" for p in record.programming],
                lead,
                record.programming,
            ),
        }
        return build[section]()

    def what(self, record: Record, lead: int | None = None) -> Card:
        """Summary, facts and profile (or a topic's points)."""
        blocks = [Block(None, (record.summary,), "paragraph")]
        facts = [n.text for n in record.facts]
        if record.movement:
            facts.append(f"Type: {record.movement} movement")
        if record.level:
            facts.append(f"Level: {record.level}")
        if record.equipment:
            facts.append("Equipment: " + "; ".join(record.equipment))
        if facts:
            blocks.append(Block(None, _first(facts, lead), "bulleted"))
        points = [f"{p.name}: {p.text}" for p in record.points]
        if points:
            blocks.append(Block(None, _first(points, lead), "bulleted"))
        return Card(tuple(blocks), _src(record, (*record.points, *record.facts)))

    def muscles(self, record: Record) -> Card:
        """Prime movers and stabilisers."""
        m = record.muscles
        blocks: list[Block] = []
        if m is not None:

            def fmt(x: Muscle) -> str:
                name = x.name.capitalize()
                return f"{name} ({x.detail})" if x.detail else name

            if m.primary:
                blocks.append(Block("Main muscles", tuple(fmt(x) for x in m.primary)))
            if m.stabilisers:
                blocks.append(Block("Stabilisers", tuple(fmt(x) for x in m.stabilisers)))
            if m.note:
                blocks.append(Block(None, (m.note,), "paragraph"))
        return Card(tuple(blocks), (record.source,))

    def muscle_line(self, record: Record, muscle: str) -> str:
        """Whether ``record`` works ``muscle``, and in which role, as the article lists it."""
        m = record.muscles
        assert m is not None
        terms = self.analyzer.terms
        asked = set(terms(muscle))
        name = record.name.lower()
        for group, role in ((m.primary, "a main muscle"), (m.stabilisers, "a stabiliser")):
            for x in group:
                names = [set(terms(n)) for n in (x.name, *x.aliases)]
                if any(asked <= n or n <= asked for n in names if n):
                    return f"Yes: the {name} works the {x.name} as {role}."
        main = ", ".join(x.name for x in m.primary) or "the muscles below"
        return (
            f"The article doesn't list that muscle ({muscle}) for the {name}; "
            f"it mainly works the {main}."
        )

    def steps(self, record: Record, method: int = 0) -> Card:
        """One method's set-up, numbered steps and tips; other methods are named at the end."""
        if not record.methods:
            return self.what(record)
        chosen = record.methods[min(method, len(record.methods) - 1)]
        label = f"How to do it: {chosen.name}" if len(record.methods) > 1 else "How to do it"
        blocks = []
        if chosen.setup:
            blocks.append(Block("Set-up", tuple(n.text for n in chosen.setup)))
        blocks.append(Block(label, tuple(n.text for n in chosen.steps), "numbered"))
        if chosen.tips:
            blocks.append(Block("Tips", tuple(n.text for n in chosen.tips)))
        others = [m.name for i, m in enumerate(record.methods) if i != method]
        if others:
            blocks.append(
                Block(None, ("Also covered: " + ", ".join(others) + " version.",), "paragraph")
            )
        notes = (*chosen.setup, *chosen.steps, *chosen.tips)
        sources = _src(record, [chosen])
        return Card(tuple(blocks), tuple(dict.fromkeys((*sources, *_src(record, notes)))))

    def listed(
        self,
        record: Record,
        heading: str,
        items: list[str],
        lead: int | None,
        origin: Sequence[object],
    ) -> Card:
        """A plain list section, the asked-about item first."""
        return Card((Block(heading, _first(items, lead)),), _src(record, origin))

    def cautions(self, record: Record, lead: int | None = None) -> Card:
        """Cautions, then who should be careful or skip it."""
        blocks = []
        items = ((f"Level: {record.level}.",) if record.level else ()) + tuple(
            n.text for n in record.cautions
        )
        if items:
            offset = 1 if record.level else 0
            blocks.append(
                Block("Cautions", _first(items, None if lead is None else lead + offset))
            )
        if record.avoid_if:
            blocks.append(
                Block(
                    "Be careful or skip it if", tuple(f"{a.who}: {a.why}" for a in record.avoid_if)
                )
            )
        return Card(tuple(blocks), _src(record, (*record.avoid_if, *record.cautions)))

    def alternatives(self, record: Record, wanted: Sequence[str]) -> Card:
        """Alternatives, those fitting the stated situations first and marked as such."""
        alts = sorted(record.alternatives, key=lambda a: not set(a.situations) & set(wanted))
        items = []
        for alt in alts:
            name = alt.name or self.kb.records[alt.exercise or ""].name
            fits = [self.labels[s] for s in alt.situations if s in wanted and s in self.labels]
            tag = f" (fits {', '.join(fits)})" if fits else ""
            items.append(f"{name}{tag}: {alt.why}")
        blocks = []
        missing = [
            self.labels[s]
            for s in wanted
            if s in self.labels and not any(s in a.situations for a in alts)
        ]
        if missing:
            blocks.append(
                Block(
                    None,
                    (
                        f"The article names no alternative specifically for "
                        f"{', '.join(missing)}; here is what it offers.",
                    ),
                    "paragraph",
                )
            )
        blocks.append(Block("Alternatives", tuple(items)))
        return Card(tuple(blocks), _src(record, alts))

    def benefits(self, record: Record, lead: int | None = None) -> Card:
        """Benefits, the asked-about one first, then who it suits."""
        items = [f"{b.name}: {b.text}" for b in record.benefits]
        blocks = []
        if items:
            blocks.append(Block("Benefits", _first(items, lead)))
        if record.suits:
            blocks.append(Block("Who it suits", tuple(n.text for n in record.suits)))
        return Card(tuple(blocks), _src(record, (*record.benefits, *record.suits)))
