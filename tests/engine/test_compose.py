"""Stage 5, compose: lead with what answers; decline with what the knowledge base does say."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.answers import Answer, Block, Choice
from bot.engine import MAX_REPLY_CHARS, Engine, Trace
from bot.engine.replies import fit
from bot.render import render_text

Run = Callable[..., Trace]


def reply(trace: Run, message: str, *before: str) -> tuple[Answer, str]:
    answer = trace(message, *before).reply.answer
    return answer, render_text(answer)


def lead(text: str) -> str:
    """The title and the first block of a plain-text reply."""
    return "\n\n".join(text.split("\n\n")[:2]).lower()


@pytest.mark.parametrize(
    ("message", "stance"),
    [
        pytest.param("is the reverse squat a type of squat?", "no", id="faq-no"),
        pytest.param("can you do negative squats with just body weight?", "yes", id="faq-yes"),
        pytest.param("do negative squats help break a plateau?", "it depends", id="depends"),
    ],
)
def test_a_yes_no_question_opens_with_the_articles_stance(
    trace: Run, message: str, stance: str
) -> None:
    _, text = reply(trace, message)
    assert text.split("\n\n")[1].lower().startswith(stance)


def test_a_specific_question_leads_with_the_fact(trace: Run) -> None:
    _, text = reply(trace, "where should my shoulders be in a kettlebell hip hinge")
    assert "shoulders" in lead(text)


def test_nothing_specific_asked_gets_the_section_or_the_overview(trace: Run) -> None:
    answer, _ = reply(trace, "reverse squat")
    assert answer.intent == "overview"
    answer, _ = reply(trace, "negative squat checklist")
    assert answer.intent == "checklist"


@pytest.mark.parametrize(
    "message",
    [
        pytest.param("how many sets of reverse squats should I do", id="amount-not-given"),
        pytest.param("how long should I rest between sets of negative squats", id="wrong-unit"),
        pytest.param("what brand of resistance band is best for reverse squats", id="attribute"),
        pytest.param("how do I do a samson stretch", id="section-missing"),
    ],
)
def test_what_the_articles_do_not_give_is_declined_with_what_they_do(
    trace: Run, message: str
) -> None:
    answer, text = reply(trace, message)
    assert not answer.answered
    assert answer.exercise is not None  # about a record it does cover
    assert "doesn't" in text or "don't" in text
    assert "Source:" in text


def test_a_situation_picks_the_variant_first(trace: Run) -> None:
    _, text = reply(trace, "I only have bands at home, can I still do the reverse squat?")
    assert "band" in lead(text) or "Resistance band" in text.split("How to do it")[1][:40]


def test_a_muscle_named_gets_a_direct_line(trace: Run) -> None:
    _, text = reply(trace, "do negative squats work my calves?")
    assert "works the calves as a stabiliser" in text


def test_two_asks_get_two_sections(trace: Run) -> None:
    _, text = reply(trace, "banded reverse squat: how do i set it up and what should i check?")
    assert "sturdy" in text and "Check on every rep" in text


def test_every_answer_names_its_source(trace: Run) -> None:
    for message in ("reverse squat muscles", "what's knee valgus", "squat vs hip hinge"):
        answer, text = reply(trace, message)
        assert answer.answered and answer.sources and "Source: " in text


@settings(max_examples=60, deadline=None)
@given(
    title=st.text(max_size=3000),
    items=st.lists(st.text(max_size=2500), min_size=0, max_size=6),
    blocks=st.integers(min_value=1, max_value=4),
    sources=st.lists(st.text(max_size=400), max_size=3),
)
def test_any_answer_fits_the_limit(
    title: str, items: list[str], blocks: int, sources: list[str]
) -> None:
    """Whatever the knowledge holds (a 3,000-character name, an endless step), the reply is
    cut to the limit, and cutting always finishes."""
    answer = Answer(
        True,
        title,
        tuple(Block(f"Heading {i}", tuple(items)) for i in range(blocks)),
        sources=tuple(sources),
        followups=(Choice("Steps", "x", "steps"),),
    )
    assert len(render_text(fit(answer))) <= MAX_REPLY_CHARS


def test_every_section_of_every_record_fits(engine: Engine) -> None:
    for rid in engine.kb.records:
        for intent in ("overview", "steps", "checklist", "mistakes", "cautions", "benefits"):
            answer = engine.show(rid, intent).answer
            assert len(render_text(answer)) <= MAX_REPLY_CHARS, (rid, intent)


def test_why_about_a_common_word_gives_the_reason_not_the_overview(trace: Run) -> None:
    _, text = reply(
        trace, "and the knees thing, why does that happen", "negative squats mistakes?"
    )
    assert "valgus" in lead(text) or "inwards" in lead(text)


def test_an_amount_carried_over_gives_way_when_nothing_states_it(trace: Run) -> None:
    answer, text = reply(
        trace,
        "and later on when it gets easy?",
        "what is the backwards leg hold",
        "how long should i hold it at first",
    )
    assert answer.answered
    assert "ankle weight" in text.lower() or "warrior" in text.lower()


def test_a_safety_reply_offers_what_fits_the_stated_situation(trace: Run) -> None:
    answer, text = reply(trace, "i get vertigo and my balance is bad, can i do warrior iii")
    assert answer.title.endswith("safety first")
    assert "doctor" in text.lower()
    assert "supported version" in text  # the alternative the article gives for poor balance
    _, plain = reply(trace, "i get vertigo, can i do warrior iii")
    assert "supported version" not in plain


def test_a_why_question_leads_with_the_reason(trace: Run) -> None:
    _, text = reply(trace, "why do i need a rest day after leg day")
    assert "fibre" in lead(text)


def test_a_stance_leads_only_for_a_question_put_that_way(trace: Run) -> None:
    # "is the leg hold safe?" shares words with "Can I do it with lower back pain?" but is
    # not that question: the cautions answer it, without a verdict on back pain.
    _, text = reply(trace, "is the leg hold safe?")
    assert "cautions" in lead(text) and "back pain? " not in text


def test_a_complaint_gets_no_exercise_offered_instead(trace: Run) -> None:
    _, text = reply(trace, "knee pain during squats, should i keep going")
    assert "doctor" in text.lower() and "Instead:" not in text
