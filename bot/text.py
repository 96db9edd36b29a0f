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


def words(text: str) -> list[str]:
    """Lower-case word tokens of ``text``."""
    return WORD.findall(normalise(text))


_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The English (Snowball) stem of one lower-case word."""
    return str(_stemmer.stemWord(word))
