"""Every number the engine decides with, in one place, with the order of their strengths.

How surely a record is meant (0..1), strongest first::

    alias (1.0) > one_word_alias (0.9) > later_name x alias (0.9, a second record named)
        > context (0.7) = a description that fits > generic_name (0.6, "squat")
        > partial (0.6 x the share of the name matched, "leg hold")

A record named in full beats the conversation's record; the conversation's record beats a word
several records share and a part of a name.

How an item of knowledge is ranked for a question (retrieval), strongest first::

    the share of the question's topic its words cover            x 1
    > the ask the cue phrases signal (a prior, not a gate)        x ask_prior (0.45)
    > an alternative offered for the person's stated situation    + situation (0.3)
    = how surely its record is meant                              x record_prior (0.3)
    > a question the item says it answers                         x phrasing (0.35, scaled
                                                                    by how closely it matches)
    > a step of the variant the person did not pick, or a fact
      that does not state the amount asked for                    - method (0.15)

A topic word weighs what it tells: its knowledge-base IDF, scaled down for everyday English
words (``everyday``); a word the knowledge never uses weighs by its English rarity
(``foreign_weight``), a word nobody knows not at all. Cue words
("checklist") weigh ``cue_weight`` of that.

Answering or declining: a question is specific when its topic beyond cue words weighs at least
``specific``; then the best fact answers when it covers ``answers`` of the topic. A question
naming no record is answered from one fact only when it covers ``global_answers`` of it with at
least ``global_evidence`` of weight.

Each field is pinned by ``tests/engine/test_tuning.py``: moving it by the step given there
changes the verdict on at least one labelled message.
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
    situation: float = 0.3
    # A yes/no question's lean towards an item that takes the article's stance.
    stance: float = 0.2
    record_prior: float = 0.3
    # Cue words ("checklist", "muscles") say which kind of answer, not what it is about.
    cue_weight: float = 0.35
    # Weight of a topic word the knowledge base never uses, by how rare it is in English.
    foreign_weight: float = 2.5
    # How much a knowledge word's weight drops when it is an everyday English word (0: not at
    # all, 1: down to its English rarity).
    everyday: float = 0.7

    # -- answering or declining (compose) --
    # Topic weight beyond the cue words that makes a question specific (not just "steps").
    specific: float = 0.25
    answers: float = 0.5
    # A question naming no record is answered from one fact only with this much evidence
    # (summed weight of the words it matches) covering this share of the question.
    global_evidence: float = 0.6
    global_answers: float = 0.5


DEFAULT = Tuning()
