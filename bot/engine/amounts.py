"""Amounts: what the amounts a text states measure ("4 s down" a duration, "70% of your
weight" a load, "the following day" a frequency). Read alike in questions (recognise) and in
the knowledge's facts (retrieve)."""

from __future__ import annotations

from typing import TypeVar

from bot.engine.analyse import PhraseIndex
from bot.engine.facts import QUANTITY_WORDS
from bot.text import stem

Unit = TypeVar("Unit", bound=str)

# Words that may stand between a number and what it counts ("half *your* body weight").
_BETWEEN = frozenset({"your", "of", "a", "an", "the", "per", "to", "or", "and", "more"})


def amount_units(units: PhraseIndex[Unit], terms: tuple[str, ...]) -> frozenset[str]:
    """What the amounts in a text measure: the unit right after each number ("4 s" ->
    duration, "2-3 sets" -> count, "70 percent" -> load, "half your body weight" -> load).
    A unit word with no number before it ("decide before the set") states no amount; a
    frequency that names its period counts on its own ("the following day"), a bare "most
    often" does not."""
    found: set[str] = set()
    if _LOAD_WORDS.intersection(terms):
        found.add("load")  # "start light", "a lighter weight": a load without a number
    for start, end, unit in units.find(terms):
        if unit == "frequency" and _PERIODS.intersection(terms[start:end]):
            found.add(unit)
            continue
        i = start - 1
        while i >= 0 and terms[i] in _BETWEEN:
            i -= 1
        if i >= 0 and (terms[i].isdigit() or terms[i] in _NUMBER_STEMS):
            found.add(unit)
    return frozenset(found)


_LOAD_WORDS = frozenset({"light", "lighter", "lightest", "empti"})
_PERIODS = frozenset({"day", "daili", "week", "weekli"})
# The quantity words facts are read for, as a question's stems read them.
_NUMBER_STEMS = frozenset(stem(w) for w in QUANTITY_WORDS)
