"""Plain-text rendering of structured answers."""

from __future__ import annotations

from bot.answers import Answer, Block, Choice
from bot.render import render_text


def test_renders_every_part_in_order() -> None:
    answer = Answer(
        True,
        "Reverse squat: steps",
        (
            Block("Set-up", ("Anchor the band.",)),
            Block("How to do it", ("Lie back.", "Exhale, knees in."), "numbered"),
            Block(None, ("A closing note.",), "paragraph"),
        ),
        exercise="reverse-squat",
        sources=("Reverse Squats article",),
        followups=(Choice("Mistakes", "reverse-squat", "mistakes"),),
    )
    assert render_text(answer) == (
        "Reverse squat: steps\n\n"
        "Set-up:\n- Anchor the band.\n\n"
        "How to do it:\n1. Lie back.\n2. Exhale, knees in.\n\n"
        "A closing note.\n\n"
        "Source: Reverse Squats article\n\n"
        "More: mistakes"
    )


def test_suggestions_are_offered() -> None:
    answer = Answer(
        False,
        "Did you mean…?",
        (),
        suggestions=(
            Choice("Reverse squat", "reverse-squat", "overview"),
            Choice("Negative squat", "negative-squat", "overview"),
        ),
    )
    assert render_text(answer).endswith("Did you mean: Reverse squat, Negative squat?")


def test_markup_is_left_as_text() -> None:
    answer = Answer(True, "<b>x</b> & y", (Block(None, ("1 < 2",), "paragraph"),))
    assert render_text(answer) == "<b>x</b> & y\n\n1 < 2"
