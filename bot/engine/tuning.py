"""Every number the engine decides with, in one place, with the order of their strengths.

How surely a record is meant (0..1), strongest first::

    alias (1.0) > one_word_alias (0.9) > context (0.7) = described > generic_name (0.6)
        > partial (0.6 x the share of the name matched)

A record named in full beats the conversation's record; the conversation's record beats a word
that several records share ("squat") and a part of a name.

How an item of knowledge is ranked for a question (retrieval), strongest first::

    topic match (its words, weighted by how telling they are)   x 1
    > the ask the cue phrases signal                             x ask_prior (0.45)
    > a phrasing the item says it answers                        x phrasing (0.35)
    > the method (variant) the person's words or situation pick  + method (0.15)
    > the record's own strength                                  x record_prior (0.1)

Answering or declining: an item answers when it covers at least ``answers`` of the question's
topic (0.5), or when the question names no topic beyond its ask. A question whose topic words
the knowledge base does not know at all is declined.

Each field is pinned by ``tests/engine/test_tuning.py``: moving it by the step given there
changes at least one labelled answer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tuning:
    """The engine's numbers. Frozen: an engine is built with one and keeps it."""

    # -- naming a record (recognise) --
    alias: float = 1.0
    one_word_alias: float = 0.9
    generic_name: float = 0.6
    # A generic name written as an activity ("after squatting") counts this much of it.
    activity: float = 0.5
    partial: float = 0.6
    # A part of an alias names its record only if the matched part carries more than this
    # share of the alias's weight and includes a word at most ``distinctive_df`` records use.
    partial_share: float = 0.5
    distinctive_df: int = 2
    # A description needs this many known words before it can name a record.
    description_terms: int = 3
    # How much one hint word leans towards its ask (a clear cue phrase counts 1).
    hint: float = 0.4

    # -- choosing records (interpret) --
    context: float = 0.7
    later_name: float = 0.9
    # A description names a record when it fits at least this well, and this much better
    # than the next record.
    described_fit: float = 0.6
    described_margin: float = 0.15

    # -- ranking facts (retrieve) --
    ask_prior: float = 0.45
    phrasing: float = 0.35
    method: float = 0.15
    # An alternative the knowledge offers for a situation the person stated.
    situation: float = 0.3
    record_prior: float = 0.3
    # Cue words ("checklist", "muscles") say which kind of answer, not what it is about.
    cue_weight: float = 0.35
    # Weight of a topic word the knowledge base never uses, by how rare it is in English, and
    # of a word neither it nor English knows.
    foreign_weight: float = 2.5
    unknown_weight: float = 0.15
    # How much a knowledge word's weight drops when it is an everyday English word (0: not at
    # all, 1: down to its English rarity).
    everyday: float = 0.7
    # Topic weight beyond the cue words that makes a question specific (not just "steps").
    specific: float = 0.25
    # Evidence (summed weight of matched words) one fact needs to answer a question that
    # names no record.
    global_evidence: float = 0.6

    # -- answering or declining (compose) --
    answers: float = 0.5
    # A question naming no record is answered from one item only if that item covers this
    # much of the question.
    global_answers: float = 0.5


DEFAULT = Tuning()
