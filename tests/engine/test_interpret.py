"""Stage 3, interpret: which records and what to do, with the conversation's context."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.engine import Trace
from bot.engine.interpret import Move
from bot.engine.recognise import Ask

Run = Callable[..., Trace]


@pytest.mark.parametrize(
    ("message", "before", "move", "records"),
    [
        pytest.param(
            "how do I do a reverse squat", (), Move.ANSWER, ("reverse-squat",), id="named"
        ),
        pytest.param(
            "and the mistakes?",
            ("what muscles does the reverse squat work",),
            Move.ANSWER,
            ("reverse-squat",),
            id="follow-up-keeps-the-exercise",
        ),
        pytest.param(
            "why?",
            ("do I slow down the way up on negative squats",),
            Move.ANSWER,
            ("negative-squat",),
            id="bare-why",
        ),
        pytest.param(
            "no, I meant the lying down cable one where both knees come to your chest",
            ("tell me about psoas marches",),
            Move.ANSWER,
            ("reverse-squat",),
            id="correction-by-description",
        ),
        pytest.param(
            "the yoga one you mentioned, what's different about it",
            ("how do I make the backwards leg hold harder",),
            Move.ANSWER,
            ("warrior-iii",),
            id="described-among-those-offered",
        ),
        pytest.param(
            "and the other one with dumbbells?",
            ("squat vs hip hinge", "how do I do the hinge"),
            Move.ANSWER,
            ("squat",),
            id="the-other-one",
        ),
        pytest.param(
            "which one needs a barbell",
            ("negative squat vs reverse squat",),
            Move.CHOOSE,
            ("negative-squat", "reverse-squat"),
            id="which-of-two",
        ),
        pytest.param(
            "do deadlifts hit the glutes harder than back squats",
            (),
            Move.COMPARE,
            ("deadlift", "back-squat"),
            id="two-named-and-related",
        ),
        pytest.param(
            "what can I do instead of lunges, psoas marches?",
            (),
            Move.ANSWER,
            ("psoas-march",),
            id="ours-instead-of-an-uncovered-one",
        ),
        pytest.param(
            "zercher squat vs back squat", (), Move.DECLINE, (), id="compared-to-uncovered"
        ),
        pytest.param("is it good for me?", (), Move.DECLINE, (), id="it-with-nothing-said"),
        pytest.param(
            "teach me the moonwalk",
            ("how do I do a reverse squat",),
            Move.DECLINE,
            (),
            id="unknown-thing-in-a-conversation",
        ),
        pytest.param(
            "how can I strengthen my hip flexors", (), Move.FOR_MUSCLE, None, id="muscle"
        ),
        pytest.param(
            "my core is weak, what can I do instead?", (), Move.FOR_SITUATION, (), id="situation"
        ),
        pytest.param("stretch", (), Move.SUGGEST, (), id="one-word"),
        pytest.param(
            "I had knee surgery, are wall squats ok", (), Move.SAFETY, ("wall-squat",), id="safety"
        ),
    ],
)
def test_decisions(
    trace: Run, message: str, before: tuple[str, ...], move: Move, records: tuple[str, ...] | None
) -> None:
    decision = trace(message, *before).decision
    assert decision.move is move
    if records is not None:
        assert decision.records[: len(records)] == records


def test_first_named_record_is_the_subject(trace: Run) -> None:
    decision = trace("what weight for negative squats? i back squat 100kg").decision
    assert decision.move is Move.ANSWER
    assert decision.records[0] == "negative-squat"


def test_a_record_named_around_the_question_only_sets_the_scene(trace: Run) -> None:
    decision = trace(
        "two things ive heard of: the slow squat one and the leg backwards hold. "
        "whats the slow squat for"
    ).decision
    assert decision.records == ("negative-squat",)
    # ... and stays in view: "which of the two" can pick it
    after = trace("which of the two would help my balance", decision.recognition.analysis.text)
    assert set(after.decision.context.recent) == {"negative-squat", "standing-hip-extension"}
    assert after.decision.records[0] == "standing-hip-extension"


def test_what_an_amount_measures_describes_no_exercise(trace: Run) -> None:
    decision = trace(
        "how many seconds do i hold that one",
        "how do i progress the backwards leg hold",
        "and the other backwards one where you grab your foot",
    ).decision
    assert decision.records == ("standing-quad-stretch",)


def test_a_topic_that_lacks_the_answer_brings_in_its_articles_exercises(trace: Run) -> None:
    decision = trace("what should i watch in my form during negatives, like a checklist").decision
    assert "negative-squat" in decision.records


def test_an_example_the_record_in_view_uses_is_no_uncovered_exercise(trace: Run) -> None:
    decision = trace("can i do that with pull ups?", "what is eccentric training").decision
    assert decision.move is Move.ANSWER
    assert decision.records[0] == "negative-exercise"


def test_a_continuation_keeps_the_last_ask(trace: Run) -> None:
    decision = trace(
        "what about as strength work after my main lifts",
        "i want to add the backwards leg hold to my warm up",
    ).decision
    assert decision.query is not None and decision.query.asks.get(Ask.PROGRAMMING) == 1.0


def test_words_describing_the_record_at_hand_stay_the_question(trace: Run) -> None:
    decision = trace("how do i fix the counting one", "negative squats mistakes?").decision
    assert decision.query is not None and "count" in decision.query.topic


def test_a_situation_stated_about_a_topic_finds_what_suits_it(trace: Run) -> None:
    decision = trace(
        "my core is pretty weak though",
        "my hip mobility sucks. is that just cos my hip flexors are tight?",
    ).decision
    assert decision.move is Move.FOR_SITUATION


def test_a_stated_situation_stays_in_the_context(trace: Run) -> None:
    decision = trace("what can I do instead of reverse squats?", "I train at home").decision
    assert "at-home" in decision.context.constraints


def test_a_safety_mention_is_remembered(trace: Run) -> None:
    decision = trace("how do I do it then", "my knee hurts on dumbbell squats").decision
    assert "medical" in decision.context.constraints


def test_a_continuation_keeps_what_was_measured(trace: Run) -> None:
    decision = trace(
        "and coming back up?", "negative squats - how long should the way down take"
    ).decision
    assert decision.query is not None
    assert decision.query.amount and decision.query.units == {"duration"}


def test_two_records_named_together_are_a_list_to_pick_from(trace: Run) -> None:
    decision = trace(
        "ok how do i do the second one", "for glutes is a squat or a hip hinge better"
    ).decision
    assert decision.records[0] == "hip-hinge"


def test_a_bare_yes_no_asks_about_what_was_just_said(trace: Run) -> None:
    # "help" with nothing of its own to help with: with the plateau the person described.
    query = trace("would negative squats help", "my squat has been stuck at 100kg").decision.query
    assert query is not None and "plateau" in query.topic
    assert trace("would negative squats help").decision.query.topic == {}


def test_a_generic_name_gives_way_only_to_a_kind_of_it_or_a_topic(trace: Run) -> None:
    # The leg hold has a mistake about leaning forward too, but "squat" was said.
    decision = trace("when i squat my knees shoot forward first, is that wrong").decision
    assert decision.records[0] == "squat"
