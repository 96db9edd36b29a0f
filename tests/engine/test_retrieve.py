"""Stage 4, retrieve: the facts of the chosen records, ranked for the question."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.engine import Engine, Trace
from bot.engine.facts import Section
from bot.engine.recognise import Ask
from bot.engine.retrieve import Query

Run = Callable[..., Trace]


def best(engine: Engine, trace: Run, message: str) -> str:
    decision = trace(message).decision
    assert decision.query is not None
    return engine.index.rank(decision.query)[0].fact.text


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param("where do my shoulders go in a kettlebell hinge", "shoulders", id="a-fact"),
        pytest.param("what does the bar rest on in a back squat", "traps", id="word-elsewhere"),
        pytest.param(
            "how high should my leg go on the backwards leg hold",
            "hip height",
            id="a-question-the-item-answers",
        ),
        pytest.param("do negative squats help a plateau", "depends", id="faq-phrasing"),
    ],
)
def test_the_fact_that_answers_ranks_first(
    engine: Engine, trace: Run, message: str, expected: str
) -> None:
    assert expected in best(engine, trace, message).lower()


def test_the_ask_is_a_prior_not_a_gate(engine: Engine) -> None:
    """A fact of another section wins when its words answer and the asked section's do not."""
    query = Query(
        topic={"shoulder": 1.0},
        records={"hip-hinge": 1.0},
        asks={Ask.MISTAKES: 1.0},
    )
    top = engine.index.rank(query)[0].fact
    assert "shoulder" in top.text.lower()
    assert top.section is not Section.MISTAKES or "shoulder" in top.text.lower()


@pytest.mark.parametrize(
    ("topic", "situations", "method"),
    [
        pytest.param({"band": 1.0}, (), "Resistance band", id="named-kit"),
        pytest.param({}, ("no-cable-machine",), "Resistance band", id="situation"),
        pytest.param({}, (), "Cable", id="default-first"),
    ],
)
def test_the_variant_is_picked_by_words_or_situation(
    engine: Engine, topic: dict[str, float], situations: tuple[str, ...], method: str
) -> None:
    record = engine.kb.records["reverse-squat"]
    query = Query(topic=topic, records={"reverse-squat": 1.0}, asks={}, situations=situations)
    chosen = engine.index.method_for(record, query)
    assert chosen is not None and record.methods[chosen].name.startswith(method)


def test_both_variants_named_pick_neither(engine: Engine) -> None:
    record = engine.kb.records["reverse-squat"]
    query = Query(topic={"cabl": 1.0, "band": 1.0}, records={}, asks={})
    assert engine.index.method_for(record, query) is None


@pytest.mark.parametrize(
    ("units", "text", "states"),
    [
        pytest.param({"duration"}, "4 seconds down and 2 seconds up", True, id="seconds"),
        pytest.param({"duration"}, "About 70% of your working weight", False, id="wrong-unit"),
        pytest.param({"load"}, "About half your body weight", True, id="half-body-weight"),
        pytest.param({"load"}, "Start light and build up", True, id="light"),
        pytest.param(
            {"count"}, "Decide before the set how long to go down", False, id="no-number"
        ),
        pytest.param({"frequency"}, "Rest the following day", True, id="frequency-words"),
        pytest.param({"frequency"}, "Do them twice a week", True, id="twice-a-week"),
        pytest.param(
            {"frequency"}, "Most often included in advanced routines", False, id="no-period"
        ),
    ],
)
def test_an_amount_must_measure_what_is_asked(
    engine: Engine, units: set[str], text: str, states: bool
) -> None:
    query = Query(topic={}, records={}, asks={}, amount=True, units=frozenset(units))
    assert engine.index.text_states_amount(text, query) is states


def test_a_words_weight_says_how_telling_it_is(engine: Engine) -> None:
    from bot.engine.analyse import Spelling, Word

    def weight(term: str, word: str, spelling: Spelling = Spelling.KNOWN) -> float:
        return engine.index.weights([(term, Word(word, word, spelling))], frozenset())[term]

    assert weight("valgus", "valgus") > weight("knee", "knee")  # jargon over everyday words
    assert weight("calori", "calories") > weight("realli", "really")  # rare over common
    assert weight("qwzx", "qwzx", Spelling.UNKNOWN) < weight("calori", "calories")
