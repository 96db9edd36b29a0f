"""How each stage of the engine did on labelled data, and which stage a failure belongs to.

- recognition: of the messages labelled with an exercise, the share answered about it;
- ask: of the answerable messages labelled with an ask, the share answered with that ask
  (an overview counts as "what");
- lead: of the answerable messages that passed, the share whose first required fact is in
  the lead (the title and the first block), not further down;
- decline precision and recall: of the messages the bot declined, the share that should be
  declined; of those that should be, the share it declined.

A failure is put down to the first stage that went wrong: recognise (another exercise, or an
exercise where none was meant), interpret (declined or answered when it should not have been,
by its decision), retrieve (the right exercise but another ask), compose (the right exercise
and ask, but the fact is missing from the reply, or the composer declined).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.evaluation.scoring import Outcome, Rate

# The decision moves that decline on the interpreter's word.
DECLINING_MOVES = frozenset({"decline", "suggest", "distinct", "noted"})
STAGES = ("recognise", "interpret", "retrieve", "compose")


@dataclass(frozen=True)
class StageReport:
    """The per-stage measures of one system's outcomes."""

    recognition: Rate
    ask: Rate
    lead: Rate
    decline_precision: Rate
    decline_recall: Rate
    failed_at: Counter[str]

    def to_json(self) -> dict[str, Any]:
        """The ``"stages"`` object of ``fitbot eval --json``."""

        def rate(r: Rate) -> dict[str, Any]:
            return {"passed": r.passed, "total": r.total, "percent": round(r.percent, 1)}

        return {
            "exercise_recognition": rate(self.recognition),
            "ask": rate(self.ask),
            "answer_in_lead": rate(self.lead),
            "decline_precision": rate(self.decline_precision),
            "decline_recall": rate(self.decline_recall),
            "failures_by_stage": {s: self.failed_at.get(s, 0) for s in STAGES},
        }

    def lines(self) -> list[str]:
        """The report's stage table, for the terminal."""
        rows = (
            ("exercise recognition", self.recognition),
            ("ask", self.ask),
            ("answer in the lead", self.lead),
            ("decline precision", self.decline_precision),
            ("decline recall", self.decline_recall),
        )
        out = ["stages (fitbot)"]
        out += [f"  {name:<22}{r!s}" for name, r in rows]
        failed = ", ".join(f"{s} {self.failed_at.get(s, 0)}" for s in STAGES)
        out.append(f"  failures by stage: {failed}")
        return out


def stage_report(outcomes: Sequence[Outcome]) -> StageReport:
    """The stage measures of ``outcomes`` (fitbot's, with decision moves recorded)."""

    def share(hits: int, total: int) -> Rate:
        return Rate(hits, total)

    recognised = [o for o in outcomes if o.case.kind in ("in", "safety") and o.case.exercise]
    asked = [o for o in outcomes if o.case.kind == "in" and o.case.intent]
    passed_in = [o for o in outcomes if o.case.kind == "in" and o.passed and o.case.must]
    questions = [o for o in outcomes if o.case.kind in ("in", "out")]
    declined = [o for o in questions if not o.got.answered]
    outs = [o for o in questions if o.case.kind == "out"]
    return StageReport(
        recognition=share(
            sum(o.got.exercise == o.case.exercise for o in recognised), len(recognised)
        ),
        ask=share(sum(_same_ask(o) for o in asked), len(asked)),
        lead=share(sum(_in_lead(o) for o in passed_in), len(passed_in)),
        decline_precision=share(sum(o.case.kind == "out" for o in declined), len(declined)),
        decline_recall=share(sum(not o.got.answered for o in outs), len(outs)),
        failed_at=Counter(s for o in outcomes if not o.passed for s in [failed_stage(o)] if s),
    )


def failed_stage(o: Outcome) -> str | None:
    """The stage a failing outcome is put down to (None when it passed)."""
    if o.passed:
        return None
    case, got = o.case, o.got
    about_other = got.answered and case.exercise and got.exercise not in (None, case.exercise)
    meant_none = case.kind == "out" and got.answered and got.exercise and not case.exercise
    if about_other or meant_none:
        return "recognise"
    if case.kind == "in" and not got.answered:
        return "interpret" if got.move in DECLINING_MOVES else "compose"
    if case.kind == "out" and got.answered:
        return "interpret"
    if case.kind == "in" and case.intent and not _same_ask(o):
        return "retrieve"
    return "compose"


def _same_ask(o: Outcome) -> bool:
    have = o.got.intent if o.got.answered else None
    return (have if have != "overview" else "what") == o.case.intent


def _in_lead(o: Outcome) -> bool:
    """Whether the first required group is met by the reply's title and first block."""
    lead = "\n\n".join(o.got.reply.split("\n\n")[:2]).lower()
    return any(term.lower() in lead for term in o.case.must[0])
