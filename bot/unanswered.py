"""Questions the knowledge base did not answer, grouped by similarity.

Each question is reduced to its content words, stemmed ("how many calories does a squat burn"
-> "calori squat burn"); a question joins the first group, in order of size, whose leading
question it matches with a RapidFuzz ``token_set_ratio`` of at least :data:`GROUP_CUTOFF`,
else it starts a group of its own. ``fitbot report unanswered`` shows the groups; the
suggestions (:mod:`bot.suggest`) and the HTML report read them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.state.store import UnansweredQuestion
from bot.text import stem, words

# token_set_ratio of two questions' content stems at or above which they are one topic:
# "deadlift properly" / "deadlift form" (79) group, "yoga" / "pilates" (22) do not.
GROUP_CUTOFF = 75.0
# Words that say how something is asked, not what about.
STOPWORDS = frozenset(
    {
        "a", "about", "an", "and", "any", "anything", "are", "at", "be", "best", "by", "can",
        "could", "do", "does", "doing", "for", "from", "get", "good", "have", "how", "i", "im",
        "is", "it", "its", "me", "my", "of", "on", "or", "please", "should", "so", "tell", "the",
        "there", "this", "to", "what", "whats", "when", "where", "which", "while", "who", "why",
        "will", "with", "would", "you", "your",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Group:
    """Similar unanswered questions: how often asked, how, and the bot's best guess."""

    count: int
    phrasings: tuple[tuple[str, int], ...]  # distinct texts with their counts, most first
    exercise: str | None
    intent: str | None
    confidence: float  # the highest among the group's questions
    first_asked: float
    last_asked: float

    @property
    def example(self) -> str:
        """The most asked phrasing."""
        return self.phrasings[0][0]


def topic_key(text: str) -> str:
    """The content words of ``text``, stemmed; all its words if it has no content word."""
    tokens = words(text)
    return " ".join(stem(w) for w in tokens if w not in STOPWORDS) or " ".join(tokens)


def group_questions(
    questions: Sequence[UnansweredQuestion], *, cutoff: float = GROUP_CUTOFF
) -> list[Group]:
    """``questions`` grouped by similarity, most asked group first."""
    by_key: dict[str, list[UnansweredQuestion]] = {}
    for question in questions:
        by_key.setdefault(topic_key(question.text), []).append(question)
    leaders: dict[int, str] = {}
    members: list[list[UnansweredQuestion]] = []
    for key, same in sorted(by_key.items(), key=lambda item: -len(item[1])):
        # Keys are already lower-case word tokens, so no further processing is wanted.
        match = process.extractOne(
            key, leaders, scorer=fuzz.token_set_ratio, processor=None, score_cutoff=cutoff
        )
        if match is None:
            leaders[len(members)] = key
            members.append(list(same))
        else:
            members[match[2]].extend(same)
    groups = [_group(found) for found in members]
    return sorted(groups, key=lambda g: (-g.count, -g.last_asked))


def _group(questions: list[UnansweredQuestion]) -> Group:
    phrasings = Counter(q.text.strip() for q in questions)
    guesses = Counter((q.exercise, q.intent) for q in questions if q.exercise or q.intent)
    exercise, intent = guesses.most_common(1)[0][0] if guesses else (None, None)
    times = [q.asked_at for q in questions]
    return Group(
        count=len(questions),
        phrasings=tuple(phrasings.most_common()),
        exercise=exercise,
        intent=intent,
        confidence=max(q.confidence for q in questions),
        first_asked=min(times),
        last_asked=max(times),
    )
