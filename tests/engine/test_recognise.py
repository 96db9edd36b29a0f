"""Stage 2, recognise: what a message mentions, before the conversation is considered."""

from __future__ import annotations

import pytest

from bot.engine import Engine
from bot.engine.recognise import Ask, Form, How, Recognition, Ref


def recognise(engine: Engine, text: str) -> Recognition:
    return engine.recogniser.recognise(engine.analyzer.analyse(text))


@pytest.mark.parametrize(
    ("text", "record", "how"),
    [
        pytest.param("how do I do a reverse squat", "reverse-squat", How.ALIAS, id="alias"),
        pytest.param("revrse sqauts?", "reverse-squat", How.ALIAS, id="typos"),
        pytest.param("basic squat tips", "squat", How.GENERIC, id="generic-with-adjective"),
        pytest.param("is a kettlebell deadlift a hinge", "deadlift", How.ALIAS, id="kit-word"),
        pytest.param("barbell deadlift form", "deadlift", How.ALIAS, id="general-name-of-ours"),
        pytest.param("the leg hold, how long", "standing-hip-extension", How.PARTIAL, id="part"),
        pytest.param("eccentric squats", "negative-squat", How.ALIAS, id="synonym"),
        pytest.param("whats the slow squat for", "negative-squat", How.QUALIFIED, id="qualified"),
        pytest.param(
            "the leg backwards hold", "standing-hip-extension", How.PARTIAL, id="words-swapped"
        ),
    ],
)
def test_records_named(engine: Engine, text: str, record: str, how: How) -> None:
    rec = recognise(engine, text)
    assert (rec.mentions[0].record, rec.mentions[0].how) == (record, how)
    assert not rec.uncovered


@pytest.mark.parametrize(
    ("text", "name"),
    [
        pytest.param("goblet squat form", "goblet squat", id="listed-variant"),
        pytest.param("zercher squat vs back squat", "zercher squats", id="general-name"),
        pytest.param("are jump squats good cardio", "jump squat", id="pair-from-a-longer-name"),
        pytest.param("how do i do negative push ups", "push up", id="shares-a-word-with-ours"),
        pytest.param("romanian deadlift technique", "romanian deadlift", id="variant-of-ours"),
        pytest.param("how do I do a petrovsky squat", "petrovsky squat", id="unknown-word-first"),
        pytest.param("lunges or squats", "lunges", id="bare-word-we-never-use"),
    ],
)
def test_exercises_we_do_not_cover(engine: Engine, text: str, name: str) -> None:
    assert name in [u.name for u in recognise(engine, text).uncovered]


def test_an_example_the_knowledge_uses_is_not_an_uncovered_exercise(engine: Engine) -> None:
    rec = recognise(engine, "what is a negative rep, like on bench press or pull ups")
    assert rec.records == ("negative-exercise",)
    assert not rec.uncovered


@pytest.mark.parametrize(
    ("text", "form"),
    [
        pytest.param("do psoas marches need a cable machine?", Form.YES_NO, id="yes-no"),
        pytest.param("if I want bigger glutes should I stop squatting", Form.YES_NO, id="if"),
        pytest.param("negative squat = eccentric squat? same thing?", Form.YES_NO, id="same"),
        pytest.param("why does hinging spare the knees", Form.WHY, id="why"),
        pytest.param("how many seconds down on negatives", Form.AMOUNT, id="amount"),
        pytest.param("sets and reps?", Form.AMOUNT, id="bare-units"),
        pytest.param("which one is easier", Form.WHICH, id="which"),
        pytest.param("tell me about the samson stretch", Form.OPEN, id="open"),
    ],
)
def test_question_form(engine: Engine, text: str, form: Form) -> None:
    assert recognise(engine, text).form is form


@pytest.mark.parametrize(
    ("text", "ask"),
    [
        pytest.param("what does a reverse squat work", Ask.MUSCLES, id="cue-with-name-as-it"),
        pytest.param("negative squat common mistakes", Ask.MISTAKES, id="telegraphic"),
        pytest.param("kettlebell hip hinge how to", Ask.STEPS, id="trailing-cue"),
        pytest.param("what can I do instead of reverse squats", Ask.ALTERNATIVES, id="instead"),
    ],
)
def test_clear_asks(engine: Engine, text: str, ask: Ask) -> None:
    assert ask in recognise(engine, text).clear_asks


def test_a_shared_name_with_a_word_that_changes_nothing_stays_shared(engine: Engine) -> None:
    rec = recognise(engine, "heavy squat form")
    assert [(m.record, m.how) for m in rec.mentions] == [("squat", How.GENERIC)]


def test_the_x_version_says_which_version_and_does_not_ask_for_versions(engine: Engine) -> None:
    picked = recognise(engine, "for the barbell version whats the mistake people make most")
    assert Ask.VARIATIONS not in picked.asks and Ask.MISTAKES in picked.clear_asks
    assert Ask.VARIATIONS in recognise(engine, "are there easier versions").clear_asks


def test_cue_words_say_which_answer_and_the_rest_what_about(engine: Engine) -> None:
    rec = recognise(engine, "form checklist for the hip hinge: where do my shoulders go")
    assert "shoulder" in rec.topic and "shoulder" not in rec.cue_terms
    assert "checklist" in rec.cue_terms


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        pytest.param("how do I do it", Ref.IT, id="it"),
        pytest.param("and the other one?", Ref.OTHER, id="other"),
        pytest.param("ok the first one", Ref.FIRST, id="first"),
        pytest.param("which of the two is harder", Ref.ALL, id="both"),
    ],
)
def test_references_back(engine: Engine, text: str, ref: Ref) -> None:
    assert ref in recognise(engine, text).refs


@pytest.mark.parametrize(
    ("text", "safety"),
    [
        pytest.param("my knee hurts when I squat", True, id="pain"),
        pytest.param("had acl reconstruction, are wall sits ok", True, id="procedure"),
        pytest.param("i have scoliosis, ok to do asian squats", True, id="condition"),
        pytest.param("pulling my knees in feels fine", False, id="not-written-as-injury"),
        pytest.param("what should I add so I don't get hurt", False, id="prevention"),
        pytest.param("no pain, my back just arches", False, id="negated"),
    ],
)
def test_safety_words(engine: Engine, text: str, safety: bool) -> None:
    assert bool(recognise(engine, text).safety) is safety


@pytest.mark.parametrize(
    ("text", "situation"),
    [
        pytest.param("I only have bands at home", "at-home", id="cue"),
        pytest.param("my core is pretty weak", "weak-core", id="any-order"),
        pytest.param("no gym for me", "no-cable-machine", id="no-gym"),
    ],
)
def test_situations(engine: Engine, text: str, situation: str) -> None:
    assert situation in recognise(engine, text).situations


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        pytest.param("how many calories does a reverse squat burn", "calori", id="how-many"),
        pytest.param("which brand of band is best", "brand", id="which-noun"),
        pytest.param("teach me the moonwalk", "moonwalk", id="after-a-steps-cue"),
        pytest.param("squats vs deadlifts, which hits quads harder", None, id="which-verb"),
    ],
)
def test_the_thing_asked_for(engine: Engine, text: str, asked: str | None) -> None:
    assert recognise(engine, text).asked == asked


def test_small_talk_is_only_small_talk(engine: Engine) -> None:
    assert recognise(engine, "thanks!").small_talk == "thanks"
    assert recognise(engine, "thanks, and how do I do a reverse squat").small_talk is None


@pytest.mark.parametrize(
    ("text", "asking"),
    [
        pytest.param("weight for negatives? i back squat 100kg", "weight", id="question-mark"),
        pytest.param("i back squat 100 kg. what weight for negatives", "what", id="last-sentence"),
        pytest.param(
            "whats the point of an asian squat, saw it mentioned w reverse squats",
            "whats",
            id="clause-with-a-question-word",
        ),
    ],
)
def test_the_part_that_asks(engine: Engine, text: str, asking: str) -> None:
    rec = recognise(engine, text)
    first = min(rec.asking_at)
    assert rec.analysis.words_of(first, first + 1) == asking
    assert rec.asking_at != frozenset(range(len(rec.analysis.terms)))


def test_a_pronoun_in_the_part_that_asks_points_back(engine: Engine) -> None:
    assert recognise(engine, "reverse squat, is that a squat variation?").points_back
    assert not recognise(engine, "whats an asian squat, saw it mentioned").points_back


@pytest.mark.parametrize(
    ("text", "units"),
    [
        pytest.param("can i do it every day", {"frequency"}, id="frequency"),
        pytest.param("i back squat 100kg, so do i just put 70 on?", {"number"}, id="bare-number"),
        pytest.param("is 3 sets enough", {"count"}, id="count"),
        pytest.param("will negatives help, been stuck at 100kg for months", set(), id="aside"),
    ],
)
def test_amounts_a_yes_no_question_states(engine: Engine, text: str, units: set[str]) -> None:
    assert recognise(engine, text).stated_units == units


def test_an_ordinal_before_a_noun_is_no_reference(engine: Engine) -> None:
    assert Ref.OTHER not in recognise(engine, "tip forward with the other leg straight").refs
    assert Ref.OTHER in recognise(engine, "and the other backwards one?").refs


def test_the_words_before_one_describe_it(engine: Engine) -> None:
    rec = recognise(engine, "that yoga one where you tip forward on one leg")
    assert rec.described_one[0][0] == "warrior-iii"
    assert not recognise(engine, "how long do i hold that one").described_one


def test_what_are_asks_what_it_is_only_of_the_exercise(engine: Engine) -> None:
    assert Ask.WHAT in recognise(engine, "what are negative squats").clear_asks
    assert Ask.WHAT in recognise(engine, "what are they good for").clear_asks
    other = recognise(engine, "what are the stabiliser muscles in an eccentric squat")
    assert Ask.WHAT not in other.clear_asks


def test_a_continuation_is_recognised(engine: Engine) -> None:
    assert recognise(engine, "what about as strength work after my main lifts").continues
    assert recognise(engine, "and if i want it for strength instead").continues
    assert not recognise(engine, "what muscles does it work").continues


@pytest.mark.parametrize(
    "text",
    [
        "is the reverse squat actually a squat variation",
        "reverse squat, is that a squat variation?",
    ],
)
def test_is_it_a_kind_of_thing_asks_what_it_is(engine: Engine, text: str) -> None:
    rec = recognise(engine, text)
    assert Ask.WHAT in rec.clear_asks and Ask.VARIATIONS not in rec.clear_asks
    assert rec.form is Form.YES_NO
    assert Ask.VARIATIONS in recognise(engine, "reverse squat variations").clear_asks


def test_a_unit_word_inside_a_name_measures_nothing(engine: Engine) -> None:
    rec = recognise(engine, "how heavy should ankle weights be for leg holds")
    assert rec.units == {"load"}


def test_what_is_told_before_the_question_asks_nothing(engine: Engine) -> None:
    told = recognise(engine, "i work from home all day. why should i care about my hip flexors")
    assert not told.muscle_ask
    # The same word in the question itself still asks, and so does a clear request.
    assert recognise(engine, "i sit all day. what does a reverse squat work").muscle_ask
    request = recognise(engine, "form checklist for the hip hinge: where do my shoulders go")
    assert Ask.CHECKLIST in request.asks


def test_a_part_of_a_name_counts_where_its_words_stand_together(engine: Engine) -> None:
    rec = recognise(engine, "using leg holds to warm up before leg day, how many sets")
    assert [m.record for m in rec.mentions] == ["standing-hip-extension"]


@pytest.mark.parametrize(
    "text", ["reverse squat muscles. im 40", "hinge muscles pls. cheers", "my knee falls inward"]
)
def test_a_closing_remark_or_a_form_fault_changes_nothing(engine: Engine, text: str) -> None:
    rec = recognise(engine, text)
    assert not rec.safety
    if "muscles" in text:
        assert Ask.MUSCLES in rec.asks


@pytest.mark.parametrize(
    "text",
    ["what's usually behind my knees caving in", "what is causing my back to arch", "how come"],
)
def test_cause_questions_ask_why(engine: Engine, text: str) -> None:
    assert recognise(engine, text).form is Form.WHY


def test_the_form_is_the_asking_sentences(engine: Engine) -> None:
    rec = recognise(
        engine, "my squat is stuck, i eat 1200 cals a day. would negatives sort it out?"
    )
    assert rec.form is Form.YES_NO
    assert "calv" not in rec.topic  # "cals" are calories, not calves
