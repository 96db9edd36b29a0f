"""Telegram rendering: escaped HTML within Telegram's limits, and restart-proof buttons."""

from __future__ import annotations

import html
import json
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import InlineKeyboardMarkup

from bot.answers import Answer, Block, Choice
from bot.telegram_render import (
    MAX_CALLBACK_DATA,
    MAX_MESSAGE,
    RatingTarget,
    callback_data,
    keyboard,
    keyboard_json,
    parse_callback_data,
    parse_rating_data,
    rating_data,
    render_html,
)

STEPS = Block("Steps", ("Lie back & brace", "Pull knees <in>"), "numbered")
CAUTIONS = Block("Cautions", ("Keep the back flat",), "bulleted")
ANSWER = Answer(
    True,
    "Reverse squat: steps",
    (STEPS, CAUTIONS),
    exercise="reverse-squat",
    intent="steps",
    confidence=0.93,
    sources=("How to do reverse squats",),
    followups=(
        Choice("Form checklist", "reverse-squat", "checklist"),
        Choice("Mistakes", "reverse-squat", "mistakes"),
        Choice("Cautions", "reverse-squat", "cautions"),
        Choice("Muscles", "reverse-squat", "muscles"),
    ),
)


class _Checker(HTMLParser):
    """Fails on anything but balanced <b>/<i>; collects the text as Telegram would show it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in ("b", "i") and not attrs, tag
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open.pop() == tag

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def visible(message: str) -> str:
    checker = _Checker()
    checker.feed(message)
    checker.close()
    assert not checker.open
    return "".join(checker.text)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_answer_layout() -> None:
    (message,) = render_html(ANSWER)

    assert message == (
        "<b>Reverse squat: steps</b>\n\n"
        "<b>Steps</b>\n1. Lie back &amp; brace\n2. Pull knees &lt;in&gt;\n\n"
        "<b>Cautions</b>\n\u2022 Keep the back flat\n\n"
        "<i>Source: How to do reverse squats</i>"
    )


def test_every_piece_of_text_is_escaped() -> None:
    nasty = '<script>&amp;"x"</b>'
    answer = Answer(True, nasty, (Block(nasty, (nasty,), "paragraph"),), sources=(nasty,))

    (message,) = render_html(answer)

    assert "<script>" not in message
    assert visible(message).count(nasty) == 4  # title, heading, item, source


def test_paragraphs_without_heading_are_separated_by_blank_lines() -> None:
    answer = Answer(True, "Hi", (Block(None, ("one", "two"), "paragraph"),))

    assert render_html(answer) == ["<b>Hi</b>\n\none\n\ntwo"]


def test_two_sources_are_listed_together() -> None:
    answer = Answer(True, "T", (), sources=("A", "B"))

    assert render_html(answer)[-1].endswith("<i>Sources: A; B</i>")


def test_long_answer_splits_at_section_boundaries() -> None:
    blocks = tuple(Block(f"Part {n}", ("x" * 1500,), "bulleted") for n in range(6))
    answer = Answer(True, "Long", blocks)

    messages = render_html(answer)

    assert len(messages) > 1
    assert all(utf16(m) <= MAX_MESSAGE for m in messages)
    for message in messages[1:]:
        assert message.startswith("<b>Part ")  # every message starts at a section


def test_block_longer_than_a_message_splits_between_items() -> None:
    items = tuple(f"step {n} " + "y" * 300 for n in range(40))
    answer = Answer(True, "Many steps", (Block("Steps", items, "numbered"),))

    messages = render_html(answer)

    assert len(messages) >= 3
    assert all(utf16(m) <= MAX_MESSAGE for m in messages)
    lines = [line for m in messages for line in m.split("\n")]
    numbered = [line for line in lines if line[:1].isdigit()]
    assert [int(line.split(".")[0]) for line in numbered] == list(range(1, 41))


@pytest.mark.parametrize(
    "word",
    [
        pytest.param("word ", id="ascii"),
        pytest.param("&<> ", id="escapes-grow"),
        pytest.param("\U0001f3cb\ufe0f ", id="astral-counts-double"),
        pytest.param("z" * 5000, id="one-giant-word"),
    ],
)
def test_item_longer_than_a_message_splits_between_words(word: str) -> None:
    text = (word * (3 * MAX_MESSAGE // len(word) + 1)).strip()
    answer = Answer(True, "T", (Block("H", (text,), "bulleted"),))

    messages = render_html(answer)

    assert all(utf16(m) <= MAX_MESSAGE for m in messages)
    shown = "".join(visible(m) for m in messages)
    assert shown.replace(" ", "").replace("\n", "").replace("\u2022", "").count(
        word.strip()
    ) == text.count(word.strip())


blocks = st.builds(
    Block,
    heading=st.none() | st.text(min_size=1, max_size=80),
    items=st.lists(st.text(min_size=1, max_size=2500), min_size=1, max_size=8).map(tuple),
    style=st.sampled_from(["numbered", "bulleted", "paragraph"]),
)
answers = st.builds(
    Answer,
    answered=st.booleans(),
    title=st.text(min_size=1, max_size=200),
    blocks=st.lists(blocks, max_size=6).map(tuple),
    sources=st.lists(st.text(min_size=1, max_size=60), max_size=3).map(tuple),
)


@settings(max_examples=60, deadline=None)
@given(answer=answers, limit=st.sampled_from([MAX_MESSAGE, 300]))
def test_any_answer_renders_to_valid_pieces_within_the_limit(answer: Answer, limit: int) -> None:
    messages = render_html(answer, limit=limit)

    assert messages
    for message in messages:
        assert utf16(message) <= limit
        visible(message)  # balanced, only our tags
    words = "".join(visible(m) for m in messages).split()
    for item in (i for b in answer.blocks for i in b.items):
        for word in item.split():
            if len(html.escape(word)) < limit // 2:
                assert any(word in w for w in words)


def test_keyboard_rows_and_callback_data() -> None:
    markup = keyboard(ANSWER)

    assert markup is not None
    rows = [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard]
    assert rows == [
        [
            ("Form checklist", "s|reverse-squat|checklist"),
            ("Mistakes", "s|reverse-squat|mistakes"),
            ("Cautions", "s|reverse-squat|cautions"),
        ],
        [("Muscles", "s|reverse-squat|muscles")],
        [("\N{THUMBS UP SIGN}", "r|+|reverse-squat|steps|93"),
         ("\N{THUMBS DOWN SIGN}", "r|-|reverse-squat|steps|93")],
    ]  # fmt: skip


def test_keyboard_json_is_ptbs_own_serialisation() -> None:
    markup = keyboard(ANSWER)

    assert markup is not None
    assert type(markup) is InlineKeyboardMarkup
    assert json.loads(keyboard_json(ANSWER) or "") == markup.to_dict()
    assert keyboard_json(Answer(True, "T", ())) is None


def test_suggestions_are_buttons_one_per_row() -> None:
    answer = Answer(
        False,
        "Did you mean\u2026?",
        (),
        suggestions=(
            Choice("Reverse squat", "reverse-squat", "overview"),
            Choice("Negative squat", "negative-squat", "overview"),
        ),
    )

    markup = keyboard(answer)

    assert markup is not None
    assert [[b.text for b in row] for row in markup.inline_keyboard] == [
        ["Reverse squat"],
        ["Negative squat"],
    ]


def test_no_choices_no_keyboard() -> None:
    assert keyboard(Answer(True, "T", ())) is None


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(Answer(False, "T", (), exercise="squat", intent="steps"), id="decline"),
        pytest.param(Answer(True, "Hi, I'm fitbot", (), intent="start"), id="greeting"),
        pytest.param(Answer(True, "T", (), exercise="reverse-squat"), id="no-section"),
    ],
)  # fmt: skip
def test_only_answers_about_a_record_section_can_be_rated(answer: Answer) -> None:
    assert keyboard(answer) is None


def test_the_rating_row_is_left_out_when_its_data_would_not_fit() -> None:
    long_id = "x" * (MAX_CALLBACK_DATA - len("r|+||steps|100") + 1)
    answer = replace(ANSWER, followups=(), exercise=long_id, confidence=1.0)

    assert keyboard(answer) is None


@given(
    record=st.from_regex(r"[a-z0-9]+(-[a-z0-9]+)*", fullmatch=True),
    section=st.sampled_from(["what", "steps", "overview", "alternatives", "programming"]),
    percent=st.integers(min_value=0, max_value=100),
    helpful=st.booleans(),
)
def test_rating_data_round_trips(record: str, section: str, percent: int, helpful: bool) -> None:
    target = parse_rating_data(rating_data(helpful, record, section, percent))

    assert target == RatingTarget(helpful, record, section, percent / 100)


@pytest.mark.parametrize(
    "data",
    [None, "", "r|+|a|steps", "r|?|a|steps|50", "r|+||steps|50", "r|+|a|steps|101",
     "r|+|a|steps|x", "s|a|steps", "r|-|a||50"],
)  # fmt: skip
def test_foreign_rating_data_is_rejected(data: str | None) -> None:
    assert parse_rating_data(data) is None


def test_a_button_whose_data_would_not_fit_is_left_out() -> None:
    long_id = "x" * MAX_CALLBACK_DATA
    answer = Answer(
        True,
        "T",
        (),
        followups=(Choice("Too long", long_id, "steps"), Choice("Fine", "ok", "steps")),
    )

    markup = keyboard(answer)

    assert markup is not None
    assert [b.text for row in markup.inline_keyboard for b in row] == ["Fine"]


@given(exercise=st.from_regex(r"[a-z0-9]+(-[a-z0-9]+)*", fullmatch=True), intent=st.text())
def test_callback_data_round_trips(exercise: str, intent: str) -> None:
    if "|" in intent or not intent:
        return
    assert parse_callback_data(callback_data(exercise, intent)) == (exercise, intent)


@pytest.mark.parametrize(
    "data", [None, "", "s|only", "x|reverse-squat|steps", "s||steps", "s|a|b|c", "s|a|"]
)
def test_foreign_callback_data_is_rejected(data: str | None) -> None:
    assert parse_callback_data(data) is None
