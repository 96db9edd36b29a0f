"""Turning one section of a record into answer blocks, with the articles the items came from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.answers import Block
from bot.knowledge import KnowledgeBase
from bot.schema import Muscle, Record

LABELS = {
    "what": "What it is",
    "muscles": "Muscles",
    "steps": "Steps",
    "checklist": "Form checklist",
    "mistakes": "Mistakes",
    "cautions": "Cautions",
    "alternatives": "Alternatives",
    "benefits": "Benefits",
    "variations": "Variations",
    "programming": "Programming",
}
# The order follow-up buttons are offered in: the sections a person most often wants next.
FOLLOW_UP_ORDER = (
    "steps",
    "checklist",
    "mistakes",
    "cautions",
    "alternatives",
    "muscles",
    "benefits",
    "variations",
    "programming",
    "what",
)


@dataclass(frozen=True)
class Part:
    """Blocks for one section plus the source article ids of what they show."""

    blocks: tuple[Block, ...]
    sources: tuple[str, ...]


def has_section(record: Record, intent: str) -> bool:
    """Whether ``record`` holds anything for ``intent``."""
    fields = {
        "what": (record.summary,),
        "muscles": (record.muscles,),
        "steps": record.methods,
        "checklist": record.checklist,
        "mistakes": record.mistakes,
        "cautions": (*record.cautions, *record.avoid_if),
        "alternatives": record.alternatives,
        "benefits": (*record.benefits, *record.suits),
        "variations": record.variations,
        "programming": record.programming,
    }
    return any(fields.get(intent, ()))


def _first(items: Sequence[str], lead: int | None) -> tuple[str, ...]:
    """Items with the one at ``lead`` moved to the front."""
    if lead is None or not 0 <= lead < len(items):
        return tuple(items)
    return (items[lead], *items[:lead], *items[lead + 1 :])


def _src(record: Record, items: Iterable[object]) -> tuple[str, ...]:
    found = [getattr(i, "source", None) or record.source for i in items]
    return tuple(dict.fromkeys([record.source, *found]))


def what(record: Record, kb: KnowledgeBase, lead: int | None = None) -> Part:
    """Summary, facts and profile (or a topic's points)."""
    blocks = [Block(None, (record.summary,), "paragraph")]
    facts = list(record.facts)
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
    return Part(tuple(blocks), _src(record, record.points))


def muscles(record: Record, lead_line: str | None = None) -> Part:
    """Prime movers and stabilisers, optionally led by a direct yes/no line."""
    m = record.muscles
    blocks: list[Block] = []
    if lead_line:
        blocks.append(Block(None, (lead_line,), "paragraph"))
    if m is not None:

        def fmt(x: Muscle) -> str:
            name, detail = x.name, x.detail
            return f"{name.capitalize()} ({detail})" if detail else name.capitalize()

        if m.primary:
            blocks.append(Block("Main muscles", tuple(fmt(x) for x in m.primary)))
        if m.stabilisers:
            blocks.append(Block("Stabilisers", tuple(fmt(x) for x in m.stabilisers)))
        if m.note:
            blocks.append(Block(None, (m.note,), "paragraph"))
    return Part(tuple(blocks), (record.source,))


def steps(record: Record, method: int = 0) -> Part:
    """One method's set-up, numbered steps and tips; other methods are named at the end."""
    chosen = record.methods[method]
    label = f"How to do it: {chosen.name}" if len(record.methods) > 1 else "How to do it"
    blocks = []
    if chosen.setup:
        blocks.append(Block("Set-up", chosen.setup))
    blocks.append(Block(label, chosen.steps, "numbered"))
    if chosen.tips:
        blocks.append(Block("Tips", chosen.tips))
    others = [m.name for i, m in enumerate(record.methods) if i != method]
    if others:
        blocks.append(
            Block(None, ("Also covered: " + ", ".join(others) + " version.",), "paragraph")
        )
    return Part(tuple(blocks), _src(record, [chosen]))


def checklist(record: Record) -> Part:
    """The cues to check on every rep."""
    return Part((Block("Check on every rep", record.checklist),), (record.source,))


def mistakes(record: Record, lead: int | None = None) -> Part:
    """Common mistakes, each with its fix; the one asked about first."""
    items = [f"{m.mistake} Fix: {m.fix}" for m in record.mistakes]
    return Part((Block("Common mistakes", _first(items, lead)),), _src(record, record.mistakes))


def cautions(record: Record, lead: str | None = None) -> Part:
    """Cautions and who should be careful or skip it, led by the level it asks for and by a
    caution that fits what the person told us."""
    blocks = []
    if lead:
        blocks.append(Block(None, (lead,), "paragraph"))
    items = ((f"Level: {record.level}.",) if record.level else ()) + record.cautions
    if items:
        blocks.append(Block("Cautions", items))
    if record.avoid_if:
        blocks.append(
            Block("Be careful or skip it if", tuple(f"{a.who}: {a.why}" for a in record.avoid_if))
        )
    return Part(tuple(blocks), _src(record, record.avoid_if))


def alternatives(
    record: Record, kb: KnowledgeBase, wanted: Sequence[str], labels: dict[str, str]
) -> Part:
    """Alternatives, those fitting the stated situations first and marked as such."""
    alts = sorted(record.alternatives, key=lambda a: not set(a.situations) & set(wanted))
    items = []
    for alt in alts:
        name = alt.name or kb.records[alt.exercise or ""].name
        fits = [labels[s] for s in alt.situations if s in wanted and s in labels]
        tag = f" (fits {', '.join(fits)})" if fits else ""
        items.append(f"{name}{tag}: {alt.why}")
    blocks = []
    missing = [
        labels[s] for s in wanted if s in labels and not any(s in a.situations for a in alts)
    ]
    if missing:
        blocks.append(
            Block(
                None,
                (
                    f"The article names no alternative specifically for {', '.join(missing)}; "
                    "here is what it offers.",
                ),
                "paragraph",
            )
        )
    blocks.append(Block("Alternatives", tuple(items)))
    return Part(tuple(blocks), _src(record, alts))


def benefits(record: Record, lead: int | None = None) -> Part:
    """Benefits, the asked-about one first, then who it suits."""
    items = [f"{b.name}: {b.text}" for b in record.benefits]
    blocks = []
    if lead == -1 and record.suits:
        blocks.append(Block("Who it suits", record.suits))
    if items:
        blocks.append(Block("Benefits", _first(items, lead if lead != -1 else None)))
    if lead != -1 and record.suits:
        blocks.append(Block("Who it suits", record.suits))
    return Part(tuple(blocks), _src(record, record.benefits))


def variations(record: Record, lead: int | None = None) -> Part:
    """Variations and progressions, the asked-about one first."""
    items = [f"{v.name}: {v.text}" for v in record.variations]
    return Part(
        (Block("Variations and progressions", _first(items, lead)),),
        _src(record, record.variations),
    )


def programming(record: Record, lead: int | None = None) -> Part:
    """How to fit it into training."""
    items = [f"{p.name}: {p.text}" for p in record.programming]
    return Part((Block("Programming", _first(items, lead)),), _src(record, record.programming))


def faq(record: Record, index: int) -> Part:
    """One FAQ answer."""
    entry = record.faq[index]
    return Part((Block(None, (entry.a,), "paragraph"),), (entry.source or record.source,))
