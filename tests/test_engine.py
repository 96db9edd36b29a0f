"""The answer engine, read as a specification: matching, asks, context, declines, safety."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.context import Context
from bot.engine import MAX_REPLY_CHARS, Engine, Reply
from bot.engine.facts import LABELS
from bot.render import render_text

# "reverse squat" in full-width letters, as some phone keyboards type it.
FULL_WIDTH = "".join(chr(ord(c) + 0xFEE0) if c != " " else c for c in "reverse squat")


def ask(engine: Engine, *turns: str) -> Reply:
    """The reply to the last of ``turns``, said in one conversation."""
    context = Context()
    reply = None
    for text in turns:
        reply = engine.ask(text, context)
        context = reply.context
    assert reply is not None
    return reply


def text_of(reply: Reply) -> str:
    return render_text(reply.answer).lower()


@pytest.mark.parametrize(
    ("question", "exercise"),
    [
        pytest.param("how do I do a reverse squat", "reverse-squat", id="name"),
        pytest.param("revers squat steps", "reverse-squat", id="typo"),
        pytest.param("negitive squats form checklist", "negative-squat", id="typo-2"),
        pytest.param("whats the string cue for the hip hindge", "hip-hinge", id="typo-3"),
        pytest.param("how do I do an eccentric squat", "negative-squat", id="synonym"),
        pytest.param("how do i do a standing hip extension", "standing-hip-extension", id="alias"),
        pytest.param("how do i do a backwards leg hold", "standing-hip-extension", id="alias-2"),
        pytest.param("REVERSE SQUAT muscles!!!", "reverse-squat", id="shouting"),
        pytest.param("banded reverse squat at home setup", "reverse-squat", id="variant-name"),
        pytest.param("what is a psoas march", "psoas-march", id="plural-free"),
        pytest.param("warrior 3 steps", "warrior-iii", id="numeral"),
    ],
)
def test_finds_the_exercise(engine: Engine, question: str, exercise: str) -> None:
    answer = engine.ask(question).answer
    assert answer.answered
    assert answer.exercise == exercise


@pytest.mark.parametrize(
    ("question", "intent", "expected"),
    [
        pytest.param("what muscles do reverse squats work", "muscles", "psoas", id="muscles"),
        pytest.param("how do i do a reverse squat", "steps", "exhale", id="steps"),
        pytest.param("form checklist for negative squats", "checklist", "count", id="checklist"),
        pytest.param("common mistakes on negative squats", "mistakes", "spotter", id="mistakes"),
        pytest.param(
            "is the backwards leg hold safe for everyone", "cautions", "surgery", id="cautions"
        ),
        pytest.param(
            "how do i make banded reverse squats harder", "variations", "thicker", id="variations"
        ),
        pytest.param(
            "when in my workout should negative squats go",
            "programming",
            "after",
            id="programming",
        ),
        pytest.param("benefits of reverse squats", "benefits", "sprint", id="benefits"),
    ],
)
def test_answers_the_ask(engine: Engine, question: str, intent: str, expected: str) -> None:
    reply = engine.ask(question)
    assert reply.answer.intent == intent
    assert expected in text_of(reply)


def test_a_muscle_question_gets_a_direct_answer(engine: Engine) -> None:
    assert "works the calves as a stabiliser" in text_of(
        engine.ask("do negative squats work my calfs?")
    )
    no = text_of(engine.ask("do reverse squats work the hamstrings?"))
    assert "doesn't list that muscle" in no and "hip flexors" in no


def test_a_muscles_answer_is_not_the_whole_card(engine: Engine) -> None:
    reply = text_of(engine.ask("what muscles does the reverse squat work"))
    assert "psoas" in reply
    assert "exhale" not in reply  # the steps are offered, not pasted
    assert "more: steps" in reply


def test_a_bare_name_gets_an_overview_with_next_sections(engine: Engine) -> None:
    reply = engine.ask("reverse squat")
    assert reply.answer.intent == "overview"
    assert {c.intent for c in reply.answer.followups} >= {"steps", "checklist", "mistakes"}


def test_two_asks_in_one_question(engine: Engine) -> None:
    reply = text_of(
        engine.ask("banded reverse squat: how do i set it up and what should i check?")
    )
    assert "sturdy" in reply  # the band's set-up
    assert "check on every rep" in reply  # and the checklist


@pytest.mark.parametrize(
    "question",
    [
        pytest.param("bench press form", id="other-exercise"),
        pytest.param("creatine dosage", id="supplement"),
        pytest.param("what's the weather like", id="chit-chat"),
        pytest.param("how do I do a reverse lunge", id="shared-word-lunge"),
        pytest.param("reverse crunch technique", id="shared-word-crunch"),
        pytest.param("how do i do a hip thrust", id="shared-word-hip"),
        pytest.param("goblet squat form tips", id="shared-head-word"),
        pytest.param("how much protein should I eat", id="nutrition"),
        pytest.param("qwertyuiop", id="gibberish"),
        pytest.param("what's 2+2", id="numbers"),
    ],
)
def test_declines_what_it_does_not_cover(engine: Engine, question: str) -> None:
    answer = engine.ask(question).answer
    assert not answer.answered
    assert answer.exercise is None
    assert "reverse squat" in render_text(answer).lower()  # offers what it does cover


def test_powerlifting_banded_reverse_squat_is_a_different_exercise(engine: Engine) -> None:
    answer = engine.ask("banded reverse squat with a barbell for powerlifting").answer
    assert not answer.answered
    assert "different exercise" in render_text(answer)


def test_context_follow_ups(engine: Engine) -> None:
    first = "what muscles does the reverse squat work?"
    assert ask(engine, first, "and the mistakes?").answer.intent == "mistakes"
    assert ask(engine, first, "and the mistakes?").answer.exercise == "reverse-squat"
    switched = ask(engine, first, "what about negative squats?").answer
    assert (switched.exercise, switched.intent) == ("negative-squat", "muscles")
    assert (
        ask(engine, "how do i do a reverse squat", "what muscles does it work?").answer.intent
        == "muscles"
    )


def test_a_pronoun_does_not_make_an_unknown_thing_known(engine: Engine) -> None:
    assert not ask(engine, "how do i do a reverse squat", "what about creatine?").answer.answered
    assert not ask(engine, "how do i do a reverse squat", "who won the super bowl").answer.answered
    assert not engine.ask("how many sets of it should i do?").answer.answered  # no context


def test_correction_switches_exercise(engine: Engine) -> None:
    reply = ask(
        engine,
        "tell me about psoas marches",
        "no, I meant the lying down cable one where both knees come to your chest",
    )
    assert reply.answer.exercise == "reverse-squat"


def test_stated_constraints_are_remembered(engine: Engine) -> None:
    reply = ask(engine, "I train at home", "what can I do instead of reverse squats?")
    assert "at-home" in reply.context.constraints
    assert "fits training at home" in text_of(reply)
    assert "at-home" not in engine.ask("/reset", reply.context).context.constraints


def test_which_one_after_a_comparison(engine: Engine) -> None:
    compare = "negative squat vs reverse squat"
    first = ask(engine, compare).answer
    assert first.intent == "comparison"
    assert ask(engine, compare, "which one needs a barbell").answer.exercise == "negative-squat"
    assert ask(engine, compare, "which one helps sprinting").answer.exercise == "reverse-squat"


@pytest.mark.parametrize(
    "question",
    [
        "my knee hurts when I do dumbbell squats",
        "I had hip surgery last month, can I do backwards leg holds?",
        "sharp pain in my lower back during reverse squats",
        "I'm pregnant, is this ok?",
    ],
)
def test_safety_questions_get_cautions_and_a_referral(engine: Engine, question: str) -> None:
    reply = text_of(engine.ask(question))
    assert "stop" in reply
    assert "doctor" in reply or "physiotherapist" in reply


def test_every_answer_names_its_source(engine: Engine) -> None:
    for question in ("reverse squat muscles", "what's knee valgus", "squat vs hip hinge"):
        answer = engine.ask(question).answer
        assert answer.answered and answer.sources, question
        assert "Source: " in render_text(answer)


def test_an_ambiguous_word_offers_suggestions_and_yes_takes_the_first(engine: Engine) -> None:
    reply = engine.ask("stretch")
    assert not reply.answer.answered
    offered = [c.exercise for c in reply.answer.suggestions]
    assert {"samson-stretch", "standing-quad-stretch"} <= set(offered)
    assert engine.ask("yes", reply.context).answer.exercise == offered[0]


@pytest.mark.parametrize(
    ("message", "intent"),
    [
        ("hi", "greeting"),
        ("thanks!", "thanks"),
        ("what do you cover?", "catalogue"),
        ("what can you do?", "greeting"),
    ],
)
def test_small_talk(engine: Engine, message: str, intent: str) -> None:
    answer = engine.ask(message).answer
    assert answer.intent == intent
    assert answer.answered


def test_every_section_of_every_record_fits(engine: Engine) -> None:
    for rid, _ in engine.catalogue():
        for intent in (*LABELS, "overview"):
            answer = engine.show(rid, intent).answer
            assert len(render_text(answer)) <= MAX_REPLY_CHARS, (rid, intent)
            assert answer.exercise == rid


def test_show_unknown_record_declines(engine: Engine) -> None:
    assert not engine.show("bench-press", "steps").answer.answered


@pytest.mark.parametrize(
    ("command", "check"),
    [
        ("/start", "reverse squat"),
        ("/help", "/checklist"),
        ("/exercises", "negative squat"),
        ("/checklist revers squat", "check on every rep"),
        ("/checklist@fitbot_test_bot negative squat", "count"),
        ("/alternatives reverse squat weak core", "fits a weak core"),
        ("/checklist", "which exercise"),
        ("/checklist bench press", "don't cover"),
        ("/frobnicate", "/help"),
    ],
)
def test_commands(engine: Engine, command: str, check: str) -> None:
    assert check in text_of(engine.ask(command))


def test_checklist_command_uses_context(engine: Engine) -> None:
    reply = ask(engine, "how do i do a negative squat", "/checklist")
    assert reply.answer.exercise == "negative-squat"
    assert reply.answer.intent == "checklist"


@pytest.mark.parametrize(
    "message",
    [
        "",
        "   ",
        "<b>reverse</b> squat & <i>muscles</i>",
        "reverse squat \u200b\u202e muscles \U0001f4aa",
        FULL_WIDTH,
        "reverse squat " * 20000,
        "\x00\x07 reverse squat",
        '{"chat": 1}',
    ],
)
def test_odd_input_never_breaks(engine: Engine, message: str) -> None:
    reply = engine.ask(message)
    assert render_text(reply.answer).strip()
    assert len(render_text(reply.answer)) <= MAX_REPLY_CHARS


def test_full_width_text_is_understood(engine: Engine) -> None:
    assert engine.ask(f"{FULL_WIDTH} muscles").answer.exercise == "reverse-squat"


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gets_a_bounded_reply(engine: Engine, text: str) -> None:
    reply = engine.ask(text)
    rendered = render_text(reply.answer)
    assert rendered.strip() and len(rendered) <= MAX_REPLY_CHARS


def test_context_round_trips_through_json() -> None:
    context = Context(("reverse-squat",), "muscles", ("weak-core",), ())
    assert Context.from_json(context.to_json()) == context
    assert Context.from_json("not json") == Context()


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        pytest.param("what does a reverse squat work?", "muscles", id="cue-around-the-name"),
        pytest.param("is the backwards leg hold safe?", "cautions", id="is-it-safe"),
    ],
)
def test_cue_phrases_read_around_the_exercise_name(
    engine: Engine, question: str, intent: str
) -> None:
    assert engine.ask(question).answer.intent == intent


def test_the_word_muscles_is_not_always_the_ask(engine: Engine) -> None:
    reply = engine.ask("why do my muscles need a rest day after squatting?")
    assert reply.answer.exercise == "recovery"
    assert "rebuild" in text_of(reply)


def test_a_known_exercise_in_context_does_not_absorb_an_uncovered_one(engine: Engine) -> None:
    reply = ask(engine, "how do I do a reverse squat", "how to do a pull up")
    assert not reply.answer.answered
    assert "pull up" in text_of(reply)


@pytest.mark.parametrize(
    "question",
    [
        "reverse squat: do I breathe in or out while pulling my knees up?",
        "can I replace my back squats with negative squats?",
        "how do i do reverse squats on the cable machine",
    ],
)
def test_no_false_alarms(engine: Engine, question: str) -> None:
    reply = text_of(engine.ask(question))
    assert "physiotherapist" not in reply  # no safety card: nobody is hurt
    assert "you mentioned" not in reply  # no situation the person did not state
