"""Typed, frozen records for the knowledge base files, validated by pydantic.

Each YAML file maps onto one of the top-level models here:
``sources.yaml`` -> :class:`SourcesFile`, ``language.yaml`` -> :class:`LanguageFile`,
``exercises/*.yaml`` and ``topics/*.yaml`` -> :class:`Record`. Unknown fields are errors.
List items that carry their own ``source`` override the record's source article.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

# Lengths well above anything a knowledge file needs (the longest shipped name is 43
# characters, question 61, text 397), so that one careless or hostile edit cannot make a reply
# that no Telegram message holds, or an index that takes minutes to build.
MAX_NAME_CHARS = 100
MAX_QUESTION_CHARS = 200
MAX_TEXT_CHARS = 2000
MAX_SLUG_CHARS = 100

Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS)
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_CHARS)
]
Question = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUESTION_CHARS)
]
Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=MAX_SLUG_CHARS),
]

Intent = Literal[
    "what",
    "muscles",
    "steps",
    "checklist",
    "mistakes",
    "cautions",
    "alternatives",
    "benefits",
    "variations",
    "programming",
    "comparison",
]


def _stance(value: object) -> object:
    """YAML reads a bare ``yes``/``no`` as a boolean; a stance written that way means it."""
    return {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value


Stance = Annotated[Literal["yes", "no", "depends"], BeforeValidator(_stance)]
Difficulty = Literal["beginner", "intermediate", "advanced"]


class Model(BaseModel):
    """Base for every knowledge record: frozen, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Note(Model):
    """One item of a list of plain statements (a fact, a step, a checklist cue, a caution).

    Written in YAML either as a bare string or as a mapping that adds the questions the item
    answers (alternate phrasings people use, written from the article) or its own source.
    """

    text: Text
    questions: tuple[Question, ...] = ()
    source: Slug | None = None


def _as_note(value: object) -> object:
    return {"text": value} if isinstance(value, str) else value


NoteItem = Annotated[Note, BeforeValidator(_as_note)]
Questions = Annotated[
    tuple[Question, ...],
    Field(description="questions this item answers, in people's words (written from the article)"),
]


class Article(Model):
    """One source article the facts come from."""

    id: Slug
    title: Text
    file: Text


class SourcesFile(Model):
    """``sources.yaml``: the articles every record cites."""

    articles: tuple[Article, ...] = Field(min_length=1)


class Situation(Model):
    """A circumstance that shapes alternatives ("weak core", "at home")."""

    id: Slug
    label: Text
    cues: tuple[Text, ...] = Field(min_length=1)
    prefer: tuple[Text, ...] = Field(
        default=(), description="words of the variant that suits it ('band' when at home)"
    )
    avoid: tuple[Text, ...] = Field(
        default=(), description="words of the variant it rules out ('cable' with no cable)"
    )


class LanguageFile(Model):
    """``language.yaml``: words the matcher understands, kept as data."""

    synonyms: dict[Text, tuple[Text, ...]] = Field(
        description="canonical word -> variants that mean the same ('negative': ['eccentric'])"
    )
    intents: dict[Intent, tuple[Text, ...]] = Field(
        description="intent -> cue phrases that clearly ask for it ('checklist')"
    )
    intent_hints: dict[Intent, tuple[Text, ...]] = Field(
        default_factory=dict,
        description="intent -> words that lean towards it but are not decisive ('where')",
    )
    situations: tuple[Situation, ...] = ()
    safety_cues: tuple[Text, ...] = Field(min_length=1)
    referral: Text
    exercise_nouns: tuple[Annotated[str, StringConstraints(pattern=r"^[a-z]+$")], ...] = Field(
        description="single words naming a kind of exercise ('press', 'lunge'): a phrase built "
        "on one that no record claims is an exercise we do not cover"
    )
    uncovered_exercises: tuple[Text, ...] = Field(
        default=(),
        description="names of exercises not covered that no single word gives away "
        "('pull up', 'dead bug'): the bot declines them rather than guess",
    )
    generic_modifiers: tuple[Text, ...] = Field(
        default=(), description="words that do not change which exercise is meant ('heavy')"
    )
    small_talk: dict[Literal["start", "help", "exercises", "thanks", "yes"], tuple[Text, ...]] = (
        Field(
            default_factory=dict,
            description="whole messages that are not questions -> what they stand for "
            "('hi' -> start, 'what do you cover' -> exercises, 'yes' -> take the suggestion)",
        )
    )
    pronouns: tuple[Text, ...] = Field(
        default=(), description="words that refer back ('it', 'those'): they need a context"
    )
    amounts: dict[Literal["duration", "frequency", "load", "count"], tuple[Text, ...]] = Field(
        default_factory=dict,
        description="words that say what an amount measures ('seconds', 'a week', 'kg'): a "
        "'how long' question is answered by a fact that states a duration",
    )
    fillers: tuple[Text, ...] = Field(
        default=(),
        description="hedges read past entirely ('kinda', 'basically'): 'is that kinda like' "
        "is 'is that like'",
    )
    references: dict[Literal["other", "first", "second", "all"], tuple[Text, ...]] = Field(
        default_factory=dict,
        description="phrases that pick among what was said before ('the other one', 'both')",
    )
    stopwords: tuple[Text, ...] = Field(
        default=(), description="words that carry no meaning for matching ('the', 'should')"
    )
    corrections: tuple[Text, ...] = Field(
        default=(), description="phrases that correct the previous turn ('no i meant')"
    )


class ExerciseNamesFile(Model):
    """``exercise-names.yaml``: names of exercises in general (most of them not covered)."""

    source: Text
    names: tuple[Name, ...]


class Muscle(Model):
    """A muscle or muscle group, with the precise names the article gives."""

    name: Name
    detail: Text | None = None
    aliases: tuple[Name, ...] = ()


class Muscles(Model):
    """Muscles worked: prime movers and stabilisers."""

    primary: tuple[Muscle, ...] = ()
    stabilisers: tuple[Muscle, ...] = ()
    note: Text | None = None


class Method(Model):
    """How to do one variant of the exercise, step by step."""

    name: Name
    equipment: tuple[Text, ...] = ()
    setup: tuple[NoteItem, ...] = ()
    steps: tuple[NoteItem, ...] = Field(min_length=1)
    tips: tuple[NoteItem, ...] = ()
    source: Slug | None = None


class Mistake(Model):
    """A common error and how to correct it."""

    mistake: Text
    fix: Text
    questions: Questions = ()
    source: Slug | None = None


class Avoid(Model):
    """Someone who should be careful with, or skip, the exercise."""

    who: Text
    why: Text
    questions: Questions = ()
    source: Slug | None = None


class Alternative(Model):
    """Something to do instead, and the situations it answers.

    Either another record (``exercise``) or a version of this one the record describes
    (``name``, e.g. "supported backwards leg hold" for poor balance): exactly one of the two.
    """

    exercise: Slug | None = None
    name: Name | None = None
    why: Text
    situations: tuple[Slug, ...] = ()
    questions: Questions = ()
    source: Slug | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Alternative:
        if (self.exercise is None) == (self.name is None):
            raise ValueError("give exactly one of 'exercise' (another record) or 'name'")
        return self


class Variation(Model):
    """A variation or progression of the exercise."""

    name: Name
    text: Text
    direction: Literal["harder", "easier", "different"] = "different"
    exercise: Slug | None = None
    questions: Questions = ()
    source: Slug | None = None


class Point(Model):
    """A titled fact: a benefit, a programming rule, a topic point."""

    name: Name
    text: Text
    questions: Questions = ()
    source: Slug | None = None


class Faq(Model):
    """A question people ask, alternate phrasings, and the answer.

    ``stance`` is the article's short answer to a yes/no question ("no": the reverse squat is not
    a kind of squat); the answer text then gives the reason.
    """

    q: Question
    also: tuple[Question, ...] = ()
    a: Text
    intent: Intent
    stance: Stance | None = None
    source: Slug | None = None


class DistinctFrom(Model):
    """Something easily confused with this record that the knowledge base does not cover."""

    name: Name
    cues: tuple[Question, ...] = Field(min_length=1)
    note: Text
    source: Slug | None = None


class Record(Model):
    """One exercise or topic file."""

    id: Slug
    kind: Literal["exercise", "topic"]
    name: Name
    aliases: tuple[Name, ...] = ()
    source: Slug
    summary: Text
    facts: tuple[NoteItem, ...] = ()
    keywords: tuple[Question, ...] = Field(
        default=(), description="words a description of it would use ('lying', 'knees to chest')"
    )
    movement: Literal["compound", "isolation", "stretch", "hold", "test", "pattern"] | None = None
    level: Text | None = None
    difficulty: Difficulty | None = Field(
        default=None, description="how hard the article says it is, for 'which is easiest?'"
    )
    equipment: tuple[Text, ...] = ()
    muscles: Muscles | None = None
    methods: tuple[Method, ...] = ()
    checklist: tuple[NoteItem, ...] = ()
    mistakes: tuple[Mistake, ...] = ()
    cautions: tuple[NoteItem, ...] = ()
    avoid_if: tuple[Avoid, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    variations: tuple[Variation, ...] = ()
    benefits: tuple[Point, ...] = ()
    suits: tuple[NoteItem, ...] = ()
    programming: tuple[Point, ...] = ()
    points: tuple[Point, ...] = ()
    related: tuple[Slug, ...] = ()
    faq: tuple[Faq, ...] = ()
    distinct_from: tuple[DistinctFrom, ...] = ()
