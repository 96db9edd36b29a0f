"""A plain-text article as structure: a title, sections under headings, and in each section
paragraphs and (nested) list items, every piece with the lines it came from.

Plain text has no markup, so the structure is read from how such articles are laid out:

* a **list item** starts with a bullet (``•``, ``-``, ``*``, ``·``) or a number (``1.``,
  ``2)``); its indentation, relative to the items around it, gives its depth, and a deeper
  item belongs to the shallower one before it; an indented line without a marker continues the
  item above;
* a **heading** is a line on its own that reads as a title: short, starting with a capital or
  digit, not ending like a sentence (a question is fine when it is short and not chatty);
* a line naming a property (``Region Lower Body``, ``Equipment: kettlebell``) is **metadata**;
* short lower-case lines (image captions), bylines, dates, credits and page furniture
  (``Report an Issue``) are **noise** and dropped;
* everything else is **paragraph** text; consecutive lines of text join into one paragraph.

The title is the first heading near the top that names the article (``Name: what it covers``,
``Name - ...``, or ``A vs. B: ...``), else the first heading.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.drafting.language import word_set

BULLET = re.compile(r"^(\s*)([•\-*·▪◦])\s+(.*)$")
NUMBERED = re.compile(r"^(\s*)(\d{1,2})[.)]\s+(.*)$")
TITLE_SEPARATOR = re.compile(r"\s+[\u2013\u2014-]\s+|:\s+|\s+\|\s+")
METADATA_KEYS = (
    "region", "goal", "level", "equipment", "type", "difficulty", "duration", "target",
    "targets", "muscle group", "body part", "force", "mechanics",
)  # fmt: skip
NOISE = re.compile(
    r"^(image credit|photo credit|featured image|video of the day|report an issue|"
    r"screenshot|advertisement|share this|published by|last updated|updated on|written by|"
    r"reviewed by|copyright|©|related reading|read more|sign up|subscribe)"
    r"|\bmin read$|credit\s*[\u2013\u2014:-]",
    re.IGNORECASE,
)
DATE = re.compile(
    r"^(january|february|march|april|may|june|july|august|september|october|november|"
    r"december)\s+\d{1,2},\s+\d{4}$",
    re.IGNORECASE,
)
BYLINE = re.compile(r"^by\s+[A-Z][\w.'-]*(\s+[A-Z][\w.'-]*)*(\s+\d+\s+min read)?$")
CHATTY_START = ("but ", "and ", "so ", "well ", "or ", "now ", "yes", "no ")
MAX_HEADING_CHARS = 100
MAX_HEADING_WORDS = 14
MAX_QUESTION_HEADING_WORDS = 16
MINOR_WORDS = word_set(
    """
    a an and as at but by for from in into of on or the to vs with without your you is are
    do does can how what why who when which
    """
)


@dataclass(frozen=True)
class Item:
    """A list item: its text, its marker (a number, or None for a bullet), the lines it spans,
    and the items nested under it."""

    text: str
    number: int | None
    first: int
    last: int
    children: tuple[Item, ...] = ()

    @property
    def label(self) -> str | None:
        """The text before a colon that names the item ("Gluteus Maximus: The largest...",
        "Starting Position:"), if it has one."""
        head, colon, _ = self.text.partition(":")
        if colon and 0 < len(head.split()) <= 8 and not head.rstrip().endswith((".", "?")):
            return head.strip()
        return None

    @property
    def body(self) -> str:
        """The text after the label (the whole text when there is no label)."""
        if self.label is None:
            return self.text
        return self.text.partition(":")[2].strip()


@dataclass(frozen=True)
class Paragraph:
    """A paragraph and the lines it spans."""

    text: str
    first: int
    last: int


@dataclass(frozen=True)
class ItemList:
    """Consecutive list items."""

    items: tuple[Item, ...]

    @property
    def first(self) -> int:
        """The list's first line."""
        return self.items[0].first

    @property
    def numbered(self) -> bool:
        """Whether its top items are numbered."""
        return all(item.number is not None for item in self.items)


Block = Paragraph | ItemList


@dataclass
class Section:
    """A heading (None for the text before the first one) and what follows it."""

    heading: str | None
    line: int
    blocks: list[Block] = field(default_factory=list)
    metadata: dict[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The heading, or how the text before the first heading is called."""
        return self.heading or "(introduction)"


@dataclass(frozen=True)
class Article:
    """An article: its title (and its line) and its sections in order."""

    title: str
    title_line: int
    sections: tuple[Section, ...]
    lines: tuple[str, ...]


# -- lines -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    kind: str  # blank, item, heading, metadata, noise, text
    text: str
    number: int  # 1-based
    indent: int = 0
    marker: int | None = None  # the item's number


def _classify(lines: list[str]) -> list[_Line]:
    out: list[_Line] = []
    for index, raw in enumerate(lines):
        number = index + 1
        line = raw.replace("\u00a0", " ").rstrip()
        stripped = line.strip()
        before = lines[index - 1].strip() if index else ""
        after = lines[index + 1].strip() if index + 1 < len(lines) else ""
        if not stripped:
            out.append(_Line("blank", "", number))
            continue
        bullet = BULLET.match(line) or NUMBERED.match(line)
        if bullet:
            indent, marker, text = bullet.groups()
            out.append(
                _Line(
                    "item",
                    text.strip(),
                    number,
                    len(indent.expandtabs(4)),
                    int(marker) if marker.isdigit() else None,
                )
            )
            continue
        indent = len(line) - len(line.lstrip())
        if _is_noise(stripped):
            out.append(_Line("noise", stripped, number))
        elif _is_metadata(stripped) and not _ends_sentence(stripped):
            out.append(_Line("metadata", stripped, number))
        elif _is_heading(stripped, before, after):
            out.append(_Line("heading", stripped, number))
        else:
            out.append(_Line("text", stripped, number, indent))
    return out


def _is_noise(text: str) -> bool:
    if NOISE.search(text) or DATE.match(text) or BYLINE.match(text):
        return True
    # An image caption: a few lower-case words without punctuation ("full squat side view").
    words = text.split()
    return text[0].islower() and len(words) <= 6 and not _ends_sentence(text)


def _is_metadata(text: str) -> bool:
    lowered = text.lower()
    for key in METADATA_KEYS:
        if lowered.startswith(key + " ") or lowered.startswith(key + ":"):
            rest = text[len(key) :].lstrip(": ").strip()
            return 0 < len(rest.split()) <= 4
    return False


def _ends_sentence(text: str) -> bool:
    """Whether ``text`` ends like a sentence (closing quotes aside)."""
    return text.rstrip().rstrip("\"'\u201d\u2019").endswith((".", "!", ",", ";", "…"))


def _is_heading(text: str, before: str, after: str) -> bool:
    words = text.split()
    if len(text) > MAX_HEADING_CHARS or not (text[0].isupper() or text[0].isdigit()):
        return False
    if _ends_sentence(text):
        return False
    if text.endswith("?"):
        lowered = text.lower()
        chatty = lowered.startswith(CHATTY_START) or " we hear you" in lowered
        return len(words) <= MAX_QUESTION_HEADING_WORDS and not chatty
    if text.endswith(":"):
        return False  # a lead-in to a list ("To perform it on a cable machine:")
    if len(words) > MAX_HEADING_WORDS:
        return False
    # A title-like line: most of its main words capitalised, or a short line standing alone.
    main = [w for w in words if w.lower() not in MINOR_WORDS and w[0].isalpha()]
    capitalised = sum(1 for w in main if w[0].isupper())
    alone = not before or not after
    return bool(main) and (capitalised >= max(1, len(main) * 0.6) or (alone and len(words) <= 6))


# -- blocks ------------------------------------------------------------------------------------


def parse(text: str) -> Article:
    """The article in ``text``."""
    lines = text.splitlines()
    classified = _classify(lines)
    title_at = _title_index(classified)
    sections: list[Section] = [Section(None, 1)]
    pending: list[_Line] = []  # text lines of the paragraph being read
    items: list[_Line] = []  # item lines (and their continuations) of the list being read

    def flush_text() -> None:
        if pending:
            joined = " ".join(line.text for line in pending)
            sections[-1].blocks.append(Paragraph(joined, pending[0].number, pending[-1].number))
            pending.clear()

    def flush_items() -> None:
        if items:
            sections[-1].blocks.append(ItemList(_nest(items)))
            items.clear()

    for index, line in enumerate(classified):
        if index < title_at or line.kind == "noise":
            continue
        if index == title_at:
            continue  # the title is kept apart
        if line.kind == "heading":
            flush_text()
            flush_items()
            sections.append(Section(line.text, line.number))
        elif line.kind == "metadata":
            flush_text()
            key, value = _metadata(line.text)
            sections[-1].metadata[key] = (value, line.number)
        elif line.kind == "item":
            flush_text()
            items.append(line)
        elif line.kind == "text":
            if items and line.indent > 0:
                items.append(line)  # an indented line continues the item above
                continue
            flush_items()
            pending.append(line)
        elif line.kind == "blank":
            flush_text()
            if items and not _list_goes_on(classified, index):
                flush_items()
    flush_text()
    flush_items()
    title_line = classified[title_at] if classified else _Line("text", "", 1)
    kept = tuple(s for s in sections if s.blocks or s.heading is not None)
    return Article(title_line.text, title_line.number, kept, tuple(lines))


def _title_index(lines: list[_Line]) -> int:
    """The line that titles the article: among the first headings, the first that names its
    subject with a separator ("Name: ...", "A vs. B"), else the first heading."""
    headings = [i for i, line in enumerate(lines) if line.kind == "heading"][:4]
    for index in headings:
        text = lines[index].text
        if TITLE_SEPARATOR.search(text) or re.search(r"\bvs\.?\s", text, re.IGNORECASE):
            return index
    if headings:
        return headings[0]
    return next((i for i, line in enumerate(lines) if line.kind == "text"), 0)


def _list_goes_on(lines: list[_Line], index: int) -> bool:
    """Whether the list continues after the blank line at ``index`` (more items follow)."""
    for line in lines[index + 1 :]:
        if line.kind == "blank":
            continue
        return line.kind == "item" or (line.kind == "text" and line.indent > 0)
    return False


def _nest(lines: list[_Line]) -> tuple[Item, ...]:
    """Items from item lines and their continuation lines, nested by indentation."""
    flat: list[tuple[int, int | None, list[str], int, int]] = []
    for line in lines:
        if line.kind == "item":
            flat.append((line.indent, line.marker, [line.text], line.number, line.number))
        elif flat:
            indent, marker, texts, first, _ = flat[-1]
            texts.append(line.text)
            flat[-1] = (indent, marker, texts, first, line.number)
    levels = sorted({indent for indent, *_ in flat})

    def build(start: int, depth_indent: int) -> tuple[list[Item], int]:
        built: list[Item] = []
        index = start
        while index < len(flat):
            indent, marker, texts, first, last = flat[index]
            if indent < depth_indent:
                break
            if indent > depth_indent:  # deeper than expected: treat as this level
                depth_indent = indent
            children, after = build(index + 1, _deeper(levels, indent))
            end = max([last] + [c.last for c in children])
            built.append(Item(" ".join(texts), marker, first, end, tuple(children)))
            index = after
        return built, index

    top, _ = build(0, levels[0] if levels else 0)
    return tuple(top)


def _deeper(levels: list[int], indent: int) -> int:
    for level in levels:
        if level > indent:
            return level
    return 10**6  # nothing deeper


def _metadata(text: str) -> tuple[str, str]:
    lowered = text.lower()
    for key in METADATA_KEYS:
        if lowered.startswith(key):
            return key, text[len(key) :].lstrip(": ").strip()
    return text, ""


def walk_items(items: tuple[Item, ...]) -> Iterator[Item]:
    """Every item, depth first."""
    for item in items:
        yield item
        yield from walk_items(item.children)
