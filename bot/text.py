"""Text basics shared by the knowledge loader, the engine and the reports: Unicode folding,
word tokens and English stems. The engine's analysis stage builds on these."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

WORD = re.compile(r"[a-z0-9]+")
# Control, format and bidirectional characters: dropped so "squat\u200bs" reads as "squats".
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u02bc": "'"})
_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
# A number written against its unit ("100kg", "30s", "3x10" stays): read as "100 kg".
_NUMBER_UNIT = re.compile(
    r"(?<=\d)(?=(?:kgs?|kilos?|lbs?|pounds?|s|secs?|seconds?|mins?|minutes?|reps?|sets?)\b)"
)


def normalise(text: str) -> str:
    """Fold Unicode forms, accents and combining marks, case, apostrophes and dashes.

    Decomposed accents ("re\\u0301verse") and stacked marks (zalgo text) read as their base
    letters; control and invisible characters are dropped.
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
        text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
        text = _DASHES.sub("-", text)
        text = _INVISIBLE.sub("", text)
    text = text.casefold().replace("%", " percent ")
    text = _NUMBER_UNIT.sub(" ", text)
    return text.replace("'", "")  # "what's" -> "whats", "don't" -> "dont"


# Combining marks kept on one character. Composed text needs at most a couple (a Vietnamese
# or Greek letter NFC cannot compose); "zalgo" text stacks dozens.
MAX_MARKS = 2


def tidy(message: str) -> str:
    """A message as its writer meant it, before anything reads or repeats it: in NFC (a
    decomposed "re\\u0301verse" becomes "réverse"), with at most :data:`MAX_MARKS` combining
    marks on any character (a zalgo flood is read, and quoted back, as its letters)."""
    if message.isascii():
        return message
    kept: list[str] = []
    marks = 0
    for char in unicodedata.normalize("NFD", message):  # every mark counted, composed or not
        marks = marks + 1 if unicodedata.combining(char) else 0
        if marks <= MAX_MARKS:
            kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


def words(text: str) -> list[str]:
    """Lower-case word tokens of ``text``."""
    return WORD.findall(normalise(text))


_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The English (Snowball) stem of one lower-case word (a number is its own stem)."""
    if word.isdigit():
        return word
    return str(_stemmer.stemWord(word))
