"""Stage 1, analyse: text -> words read as meant -> terms."""

from __future__ import annotations

import pytest

from bot.engine import Engine
from bot.engine.analyse import Analyzer, English, Spelling
from bot.text import normalise


@pytest.fixture(scope="module")
def analyzer(engine: Engine) -> Analyzer:
    return engine.analyzer


@pytest.mark.parametrize(
    ("written", "read"),
    [
        pytest.param("re\u0301verse", "reverse", id="decomposed-accent"),
        pytest.param("squa\u0336\u0335t", "squat", id="zalgo-marks"),
        pytest.param("squat\u200bs", "squats", id="zero-width-space"),
        pytest.param("what\u2019s", "whats", id="curly-apostrophe"),
        pytest.param("\uff33\uff31\uff35\uff21\uff34", "squat", id="full-width"),
    ],
)
def test_normalise_reads_past_unicode_forms(written: str, read: str) -> None:
    assert normalise(written) == read


@pytest.mark.parametrize(
    ("word", "read"),
    [
        pytest.param("sqaut", "squat", id="domain-typo"),
        pytest.param("negatve", "negative", id="domain-typo-long"),
        pytest.param("realy", "really", id="everyday-typo"),
        pytest.param("exercize", "exercise", id="everyday-one-letter"),
    ],
)
def test_misspellings_are_read_as_the_word_meant(analyzer: Analyzer, word: str, read: str) -> None:
    found = analyzer.read(word)
    assert (found.read, found.spelling) == (read, Spelling.CORRECTED)


@pytest.mark.parametrize(
    "word",
    [
        pytest.param("sweep", id="english-near-swing"),
        pytest.param("life", id="english-near-lift"),
        pytest.param("pane", id="english-near-pain"),
        pytest.param("podcast", id="english-not-in-knowledge"),
        pytest.param("hingeing", id="inflection-of-a-knowledge-word"),
        pytest.param("psoas", id="knowledge-word"),
    ],
)
def test_a_known_word_is_never_bent_into_another(analyzer: Analyzer, word: str) -> None:
    found = analyzer.read(word)
    assert (found.read, found.spelling) == (word, Spelling.KNOWN)


def test_a_word_nobody_knows_is_kept_and_reported(analyzer: Analyzer) -> None:
    analysis = analyzer.analyse("how do i do a qwzxv")
    assert analysis.unknown == ("qwzxv",)
    assert "qwzxv" in analysis.terms


def test_synonym_phrases_become_their_canonical_terms(analyzer: Analyzer) -> None:
    assert analyzer.terms("breathe out") == analyzer.terms("exhale")
    assert analyzer.terms("eccentric squat") == analyzer.terms("negative squat")


def test_hedges_are_read_past(analyzer: Analyzer) -> None:
    assert analyzer.analyse("is that kinda like a wall sit").terms == (
        analyzer.analyse("is that like a wall sit").terms
    )


def test_each_term_knows_the_word_it_came_from(analyzer: Analyzer) -> None:
    analysis = analyzer.analyse("how do I breathe out on reverse sqauts")
    assert analysis.words_of(len(analysis.terms) - 2, len(analysis.terms)) == "reverse squats"


def test_english_rarity_orders_common_and_rare_words() -> None:
    english = English({"the": 1_000_000, "squat": 500, "psoas": 100})
    assert english.rarity("the") < english.rarity("squat") < english.rarity("psoas")
    assert english.rarity("zzz") == 1.0
    assert english.nearest("sqaut") == "squat"  # one swap away


def test_a_number_written_against_its_unit_is_read_apart(analyzer: Analyzer) -> None:
    assert analyzer.analyse("i back squat 100kg").terms[-2:] == ("100", "kg")
    assert analyzer.analyse("the 1st one").terms[-2:] == ("1st", "one")


def test_texting_spellings_read_as_the_word(analyzer: Analyzer) -> None:
    assert analyzer.analyse("how long shud i hold it").terms == (
        analyzer.analyse("how long should i hold it").terms
    )


def test_no_stopword_reads_as_a_word_a_synonym_stands_for(analyzer: Analyzer) -> None:
    """A stopword that stems like a synonym's word ("quite" and "quit") would silence every
    message using that word."""
    from bot.knowledge import default_knowledge_dir, load_knowledge

    language = load_knowledge(default_knowledge_dir({})).language
    stopwords = set(language.stopwords)
    # The one-word content words synonyms stand for ("stop", "negative").
    canonical = {
        analyzer.terms(word)[0]
        for word in language.synonyms
        if word not in stopwords and len(analyzer.terms(word)) == 1
    }
    silenced = {
        stop: analyzer.terms(stop) for stop in stopwords if set(analyzer.terms(stop)) & canonical
    }
    assert not silenced
