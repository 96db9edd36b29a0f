"""Answers as Telegram messages: HTML text split to Telegram's length limit, and buttons.

Every piece of text from the answer goes through :func:`html.escape`; the only tags are the ones
added here (``<b>``, ``<i>``). Lengths are counted in UTF-16 code units of the HTML source,
which is never less than what Telegram counts (it counts the text after parsing the tags), so a
piece that fits here fits there.

Buttons carry ``s|<record id>|<intent>`` as callback data: everything needed to show the section
again, so a button still works after a restart. Under every answer about a record, one row of
"👍" and "👎" carries ``r|<+ or ->|<record id>|<intent>|<confidence in percent>``: what was
answered and how sure the engine was, enough to keep the rating after a restart.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import InlineKeyboardButtonLimit, MessageLimit

from bot.answers import Answer, Block, Choice

MAX_MESSAGE = MessageLimit.MAX_TEXT_LENGTH
MAX_CALLBACK_DATA = InlineKeyboardButtonLimit.MAX_CALLBACK_DATA
SHOW = "s"
RATE = "r"
HELPFUL = "+"
UNHELPFUL = "-"
THUMBS_UP = "\N{THUMBS UP SIGN}"
THUMBS_DOWN = "\N{THUMBS DOWN SIGN}"
SEPARATOR = "|"
BUTTONS_PER_ROW = 3
KEYBOARD_CACHE_SIZE = 512
BULLET = "\u2022 "
SECTION_GAP = "\n\n"
NOTHING_TO_SHOW = "\N{HORIZONTAL ELLIPSIS}"
WHITESPACE = re.compile(r"(\s+)")


@dataclass(frozen=True, slots=True)
class RatingTarget:
    """What a 👍/👎 button rates: the answer's record and section, and its confidence."""

    helpful: bool
    record: str
    section: str
    confidence: float


@dataclass(frozen=True)
class _Section:
    """Rendered lines that belong together, and how they are joined."""

    lines: tuple[str, ...]
    joiner: str = "\n"


def render_html(answer: Answer, *, limit: int = MAX_MESSAGE) -> list[str]:
    """The answer as HTML messages, each within ``limit``; split at section boundaries first.

    A section too long for one message is split between its items, and an item too long for one
    message between words.
    """
    sections = [_title(answer.title, limit)]
    sections += [_block(block, limit) for block in answer.blocks]
    if answer.sources:
        sections.append(_sources(answer.sources, limit))
    chunks: list[str] = []
    for section in sections:
        if not section.lines:
            continue
        whole = section.joiner.join(section.lines)
        if _length(whole) <= limit:
            chunks.append(whole)
        else:
            chunks.extend(_pack(section.lines, section.joiner, limit))
    # Telegram refuses a message without text: an answer with nothing to show (a blank title,
    # no blocks) still gets one.
    return _pack(chunks, SECTION_GAP, limit) or [NOTHING_TO_SHOW]


def keyboard(answer: Answer) -> InlineKeyboardMarkup | None:
    """Buttons for the answer's follow-ups (in rows), one row of "👍" and "👎" under an answer
    about a record, and "did you mean" suggestions (one a row).

    A button whose callback data would exceed Telegram's 64 bytes is left out.
    """
    return _keyboard(answer.followups, answer.suggestions, _rated(answer))


def keyboard_json(answer: Answer) -> str | None:
    """:func:`keyboard` as the JSON ``reply_markup`` Telegram takes (what the outbox keeps)."""
    return _keyboard_json(answer.followups, answer.suggestions, _rated(answer))


def _rated(answer: Answer) -> tuple[str, str, int] | None:
    """``(record, section, confidence in percent)`` of an answer people can rate: an answer
    about a record (not a decline, a greeting or a list of exercises)."""
    if not answer.answered or not answer.exercise or not answer.intent:
        return None
    return answer.exercise, answer.intent, round(answer.confidence * 100)


# A record's buttons recur across questions, and PTB objects are slow to build; markups are
# immutable, so one can serve every answer with the same choices.
@functools.lru_cache(maxsize=KEYBOARD_CACHE_SIZE)
def _keyboard(
    followups: tuple[Choice, ...],
    suggestions: tuple[Choice, ...],
    rated: tuple[str, str, int] | None = None,
) -> InlineKeyboardMarkup | None:
    buttons = [button for choice in followups if (button := _button(choice))]
    rows = [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
    if rated is not None:
        row = [button for helpful in (True, False) if (button := _rating_button(helpful, *rated))]
        rows += [row] if len(row) == 2 else []
    rows += [[button] for choice in suggestions if (button := _button(choice))]
    return InlineKeyboardMarkup(rows) if rows else None


@functools.lru_cache(maxsize=KEYBOARD_CACHE_SIZE)
def _keyboard_json(
    followups: tuple[Choice, ...],
    suggestions: tuple[Choice, ...],
    rated: tuple[str, str, int] | None = None,
) -> str | None:
    markup = _keyboard(followups, suggestions, rated)
    return markup.to_json() if markup is not None else None


def callback_data(exercise: str, intent: str) -> str:
    """The callback data of a button that shows ``intent`` of ``exercise``."""
    return SEPARATOR.join((SHOW, exercise, intent))


def parse_callback_data(data: str | None) -> tuple[str, str] | None:
    """``(exercise, intent)`` from :func:`callback_data` output; None for anything else."""
    parts = (data or "").split(SEPARATOR)
    if len(parts) != 3 or parts[0] != SHOW or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def rating_data(helpful: bool, record: str, section: str, percent: int) -> str:
    """The callback data of a 👍 (``helpful``) or 👎 button under an answer."""
    verdict = HELPFUL if helpful else UNHELPFUL
    return SEPARATOR.join((RATE, verdict, record, section, str(percent)))


def parse_rating_data(data: str | None) -> RatingTarget | None:
    """The :class:`RatingTarget` of :func:`rating_data` output; None for anything else."""
    parts = (data or "").split(SEPARATOR)
    if len(parts) != 5 or parts[0] != RATE or parts[1] not in (HELPFUL, UNHELPFUL):
        return None
    _, verdict, record, section, percent = parts
    if not record or not section or not percent.isdigit() or int(percent) > 100:
        return None
    return RatingTarget(verdict == HELPFUL, record, section, int(percent) / 100)


def _rating_button(
    helpful: bool, record: str, section: str, percent: int
) -> InlineKeyboardButton | None:
    data = rating_data(helpful, record, section, percent)
    if len(data.encode()) > MAX_CALLBACK_DATA:
        return None
    return InlineKeyboardButton(THUMBS_UP if helpful else THUMBS_DOWN, callback_data=data)


def _button(choice: Choice) -> InlineKeyboardButton | None:
    data = callback_data(choice.exercise, choice.intent)
    if len(data.encode()) > MAX_CALLBACK_DATA:
        return None
    return InlineKeyboardButton(choice.label, callback_data=data)


def _title(title: str, limit: int) -> _Section:
    return _Section(tuple(_wrapped(title, limit, "<b>", "</b>")))


def _block(block: Block, limit: int) -> _Section:
    lines = list(_wrapped(block.heading, limit, "<b>", "</b>")) if block.heading else []
    for number, item in enumerate(block.items, start=1):
        prefix = {"numbered": f"{number}. ", "bulleted": BULLET, "paragraph": ""}[block.style]
        lines += _wrapped(item, limit, prefix)
    if block.style == "paragraph" and not block.heading:
        return _Section(tuple(lines), joiner="\n\n")
    return _Section(tuple(lines))


def _sources(sources: Iterable[str], limit: int) -> _Section:
    names = tuple(sources)
    label = "Source" if len(names) == 1 else "Sources"
    return _Section(tuple(_wrapped(f"{label}: {'; '.join(names)}", limit, "<i>", "</i>")))


def _wrapped(text: str, limit: int, opening: str, closing: str = "") -> Iterator[str]:
    """``text`` escaped between ``opening`` and ``closing``, cut between words to fit ``limit``.

    Only the first line carries a list prefix; tags are repeated on every line so each is
    well-formed on its own.
    """
    whole = f"{opening}{html.escape(text.strip())}{closing}"
    if _length(whole) <= limit:
        if text.strip():
            yield whole
        return
    tag = opening if opening.startswith("<") else ""
    budget = limit - _length(opening) - _length(closing)
    line = ""
    for word in _words(text, budget):
        if line and _length(html.escape(line + word)) > budget:
            yield f"{opening}{html.escape(line.strip())}{closing}"
            opening, line = tag, ""
            budget = limit - _length(opening) - _length(closing)
        line += word
    if line.strip():
        yield f"{opening}{html.escape(line.strip())}{closing}"


def _words(text: str, budget: int) -> Iterator[str]:
    """Words and the spaces between them; a word longer than ``budget`` comes out in pieces."""
    for word in WHITESPACE.split(text):
        while _length(html.escape(word)) > budget:
            cut = _longest_prefix(word, budget)
            yield word[:cut]
            word = word[cut:]
        if word:
            yield word


def _longest_prefix(word: str, budget: int) -> int:
    """How many characters of ``word`` fit in ``budget`` once escaped (at least one)."""
    used = 0
    for index, char in enumerate(word):
        used += _length(html.escape(char))
        if used > budget:
            return max(index, 1)
    return len(word)


def _pack(pieces: Iterable[str], joiner: str, limit: int) -> list[str]:
    """Join consecutive pieces (each within ``limit``) into as few messages as fit."""
    messages: list[str] = []
    for piece in pieces:
        if messages and _length(messages[-1] + joiner + piece) <= limit:
            messages[-1] += joiner + piece
        else:
            messages.append(piece)
    return messages


def _length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2
