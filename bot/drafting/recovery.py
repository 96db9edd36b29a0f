"""How much of the shipped records a draft recovers: muscles (with their role), steps per
variation, mistakes with their fixes, cautions (with ``avoid_if``).

    python -m bot.drafting.recovery ARTICLES_DIR [KNOWLEDGE_DIR]

drafts every article of ``sources.yaml`` found in ``ARTICLES_DIR`` and compares each drafted
exercise with the shipped record of the same article that shares its name (or an alias), and
prints a Markdown table (the one in the README).

A shipped item counts as recovered when a drafted item says most of the same thing: at least
:data:`OVERLAP` of the shipped item's content words (stemmed, stopwords left out) occur in it.
The shipped records are rewritten in the coach's words and often merge or split the article's
sentences, so this measures coverage of content, not wording. A muscle is recovered when a
drafted muscle's name or detail names it (its name or an alias); its role counts separately. A
mistake counts only with its fix: both sides must overlap.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.drafting import draft_text
from bot.drafting.language import word_set
from bot.knowledge import KnowledgeBase, default_knowledge_dir, load_knowledge
from bot.knowledge_files import parse as parse_yaml
from bot.schema import Record, SourcesFile
from bot.text import stem, words
from bot.unanswered import STOPWORDS

OVERLAP = 0.5
EXTRA_STOPWORDS = word_set(
    """
    as but if not than then they them their there these those this that its it's also just
    more most very so such into onto out up down over
    """
)


@dataclass(frozen=True)
class Count:
    """Found out of total."""

    found: int
    total: int

    def __str__(self) -> str:
        return f"{self.found}/{self.total}" if self.total else "-"

    @property
    def share(self) -> float | None:
        """found/total, None when there is nothing to find."""
        return self.found / self.total if self.total else None


@dataclass(frozen=True)
class MethodRecovery:
    """One shipped variation: its name, steps recovered, and how many steps each side has."""

    name: str
    steps: Count
    drafted_steps: int


@dataclass(frozen=True)
class Recovery:
    """One drafted record against its shipped record."""

    article: str
    shipped: str
    drafted: str
    muscles: Count
    muscle_roles: Count
    methods: tuple[MethodRecovery, ...]
    mistakes: Count
    cautions: Count

    @property
    def steps(self) -> Count:
        """Steps of all variations together."""
        return Count(
            sum(m.steps.found for m in self.methods), sum(m.steps.total for m in self.methods)
        )


def content(text: str) -> frozenset[str]:
    """The content words of ``text``, stemmed."""
    return frozenset(
        stem(w)
        for w in words(text)
        if w not in STOPWORDS and w not in EXTRA_STOPWORDS and len(w) > 1
    )


def covers(shipped: str, drafted: str) -> bool:
    """Whether ``drafted`` holds at least :data:`OVERLAP` of ``shipped``'s content words."""
    wanted = content(shipped)
    return bool(wanted) and len(wanted & content(drafted)) / len(wanted) >= OVERLAP


def _found(shipped: Sequence[str], drafted: Sequence[str]) -> Count:
    return Count(sum(1 for s in shipped if any(covers(s, d) for d in drafted)), len(shipped))


def compare(
    shipped: Record, drafted: Record, article: str, unfixed: frozenset[int] = frozenset()
) -> Recovery:
    """How much of ``shipped`` the draft ``drafted`` (reviewed) recovers; ``unfixed`` are the
    drafted mistakes that have no fix from the article."""
    return Recovery(
        article,
        shipped.id,
        drafted.id,
        *_muscles(shipped, drafted),
        _methods(shipped, drafted),
        _mistakes(shipped, drafted, unfixed),
        _cautions(shipped, drafted),
    )


def _muscle_terms(names: Iterable[str]) -> frozenset[str]:
    return frozenset(" ".join(stem(w) for w in words(name)) for name in names)


def _muscles(shipped: Record, drafted: Record) -> tuple[Count, Count]:
    if shipped.muscles is None:
        return Count(0, 0), Count(0, 0)
    drafted_roles = []
    if drafted.muscles is not None:
        for role in ("primary", "stabilisers"):
            for muscle in getattr(drafted.muscles, role):
                text = " ".join(stem(w) for w in words(f"{muscle.name} {muscle.detail or ''}"))
                drafted_roles.append((role, f" {text} "))
    found = right = total = 0
    for role in ("primary", "stabilisers"):
        for muscle in getattr(shipped.muscles, role):
            total += 1
            terms = _muscle_terms((muscle.name, *muscle.aliases))
            roles = {r for r, text in drafted_roles if any(f" {t} " in text for t in terms)}
            found += bool(roles)
            right += role in roles
    return Count(found, total), Count(right, total)


def _methods(shipped: Record, drafted: Record) -> tuple[MethodRecovery, ...]:
    """Each shipped variation against one drafted method (one to one, the pairs that share
    most first: name words, then steps recovered); a variation left without one recovers
    nothing."""
    pairs = []
    for i, method in enumerate(shipped.methods):
        steps = [s.text for s in method.steps]
        for j, other in enumerate(drafted.methods):
            found = _found(steps, [s.text for s in other.steps]).found
            named = len(content(method.name) & content(other.name))
            pairs.append((named, found, -i, -j))
    taken: dict[int, int] = {}
    for *_, i, j in sorted(pairs, reverse=True):
        if -i not in taken and -j not in taken.values():
            taken[-i] = -j
    out = []
    for i, method in enumerate(shipped.methods):
        steps = [s.text for s in method.steps]
        paired = drafted.methods[taken[i]] if i in taken else None
        drafted_steps = [s.text for s in paired.steps] if paired is not None else []
        out.append(MethodRecovery(method.name, _found(steps, drafted_steps), len(drafted_steps)))
    return tuple(out)


def _mistakes(shipped: Record, drafted: Record, unfixed: frozenset[int]) -> Count:
    """Shipped mistakes whose mistake a drafted one covers, and whose fix that drafted pair
    covers (a coach's fix often keeps the article's explanation, which the draft leaves with
    the mistake); a drafted mistake without a fix (``unfixed``: its fix is a TODO) counts for
    nothing."""
    found = sum(
        1
        for m in shipped.mistakes
        if any(
            i not in unfixed
            and covers(m.mistake, d.mistake)
            and covers(m.fix, f"{d.mistake} {d.fix}")
            for i, d in enumerate(drafted.mistakes)
        )
    )
    return Count(found, len(shipped.mistakes))


def _cautions(shipped: Record, drafted: Record) -> Count:
    wanted = [c.text for c in shipped.cautions] + [f"{a.who} {a.why}" for a in shipped.avoid_if]
    have = [c.text for c in drafted.cautions] + [f"{a.who} {a.why}" for a in drafted.avoid_if]
    return _found(wanted, have)


# -- the four articles -------------------------------------------------------------------------


def match(drafted: Record, candidates: Iterable[Record]) -> Record | None:
    """The shipped record a drafted one stands for: the one whose name or aliases share most
    with the drafted name and aliases."""
    names = {" ".join(words(n)) for n in (drafted.name, *drafted.aliases)}
    best: tuple[int, Record] | None = None
    for record in candidates:
        theirs = {" ".join(words(n)) for n in (record.name, *record.aliases)}
        score = len(names & theirs)
        if score and (best is None or score > best[0]):
            best = (score, record)
    return best[1] if best else None


def measure(articles: Path, kb: KnowledgeBase) -> list[Recovery]:
    """Draft every article of ``kb``'s sources found in ``articles``; compare each drafted
    exercise with its shipped record."""
    out: list[Recovery] = []
    for article_id, path in article_files(kb, articles):
        draft = draft_text(path.read_text(encoding="utf-8"), path.name)
        shipped = [
            r for r in kb.records.values() if r.source == article_id and r.kind == "exercise"
        ]
        for record in draft.records:
            if record.kind != "exercise":
                continue
            reviewed = Record.model_validate(record.reviewed())
            target = match(reviewed, shipped)
            unfixed = frozenset(
                i for i, m in enumerate(record.fields.get("mistakes", [])) if m["fix"].todo
            )
            if target is not None:
                out.append(compare(target, reviewed, path.name, unfixed))
    return out


def article_files(kb: KnowledgeBase, articles: Path) -> list[tuple[str, Path]]:
    """(article id, path) of each source article of ``kb`` present in ``articles``."""
    data = parse_yaml((kb.directory / "sources.yaml").read_text(encoding="utf-8"))
    sources = SourcesFile.model_validate(data)
    return [(a.id, articles / a.file) for a in sources.articles if (articles / a.file).is_file()]


def table(rows: Sequence[Recovery]) -> str:
    """The recovery table in Markdown."""
    lines = [
        "| article | shipped record | muscles (right role) | steps per variation | "
        "mistakes with fixes | cautions |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        methods = (
            "; ".join(f"{m.name} {m.steps} (drafted {m.drafted_steps})" for m in row.methods)
            or "-"
        )
        lines.append(
            f"| {row.article} | {row.shipped} | {row.muscles} ({row.muscle_roles}) | {methods} | "
            f"{row.mistakes} | {row.cautions} |"
        )
    totals = [
        _sum(r.muscles for r in rows),
        _sum(r.muscle_roles for r in rows),
        _sum(r.steps for r in rows),
        _sum(r.mistakes for r in rows),
        _sum(r.cautions for r in rows),
    ]
    shares = [f"{c} ({c.share:.0%})" if c.share is not None else "-" for c in totals]
    lines.append(
        f"| **all** | | {shares[0]} (role {shares[1]}) | {shares[2]} | {shares[3]} | {shares[4]} |"
    )
    return "\n".join(lines)


def _sum(counts: Iterable[Count]) -> Count:
    found = total = 0
    for count in counts:
        found += count.found
        total += count.total
    return Count(found, total)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the recovery table for the articles in ``argv[0]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    kb = load_knowledge(Path(args[1]) if len(args) > 1 else default_knowledge_dir())
    print(table(measure(Path(args[0]), kb)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
