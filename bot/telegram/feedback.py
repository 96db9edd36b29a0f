"""Feedback on answers: the 👍/👎 under each answer, and the comment a 👎 asks for.

A press is kept in the state store as a :class:`~bot.state.store.Rating` of the message it was
pressed under: one per message (a second press replaces the first), with the record, section
and confidence the button carries, the question that was asked (remembered in memory only, for
the last :data:`MAX_REMEMBERED` chats; unknown after a restart), and the chat as a keyed hash.

The first 👎 on a message asks "What were you looking for?" (:data:`ASK_COMMENT`), once. That
chat's next text message is answered as usual, and is also kept as the comment, unless:

* it comes more than :data:`COMMENT_WINDOW_SECONDS` after the question, or is a command;
* it asks something else: the bot answers it with confidence about a different exercise than
  the one rated ("what about deadlifts?" after a 👎 on reverse squat steps).

"Something else" is judged on the answer, so "how much weight should I use?" after a 👎 on the
steps is kept: it says what the person was looking for.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from bot.answers import Answer
from bot.state.store import Rating, Store
from bot.telegram_render import RatingTarget

ASK_COMMENT = "What were you looking for?"
THANKS_HELPFUL = "Thanks, glad it helped!"
THANKS_UNHELPFUL = "Thanks for telling me."
COMMENT_WINDOW_SECONDS = 10 * 60
# An answer at least this sure about another exercise is a new question, not a comment.
OTHER_TOPIC_CONFIDENCE = 0.5
MAX_REMEMBERED = 10_000


class Feedback:
    """Ratings and comments of one bot, kept in ``store`` under ``hash_chat(chat_id)``."""

    def __init__(
        self,
        store: Store,
        hash_chat: Callable[[int], str],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._hash = hash_chat
        self._clock = clock
        self._questions: OrderedDict[tuple[int, str, str], str] = OrderedDict()

    def answered(self, chat_id: int, answer: Answer, question: str) -> None:
        """Remember the question behind an answer people may rate (in memory only)."""
        if not answer.answered or not answer.exercise or not answer.intent:
            return
        key = (chat_id, answer.exercise, answer.intent)
        self._questions[key] = question
        self._questions.move_to_end(key)
        if len(self._questions) > MAX_REMEMBERED:
            self._questions.popitem(last=False)

    async def rate(self, chat_id: int, message_id: int, target: RatingTarget) -> bool:
        """Keep a 👍/👎 pressed under ``message_id``; True when the comment should be asked
        for (the first 👎 on that message)."""
        chat = self._hash(chat_id)
        previous = await self._store.rating(chat, message_id)
        already_asked = previous is not None and previous.asked
        ask = not target.helpful and not already_asked
        question = self._questions.get((chat_id, target.record, target.section))
        await self._store.rate(
            Rating(
                chat=chat,
                message=message_id,
                rated_at=self._clock(),
                helpful=target.helpful,
                record=target.record,
                section=target.section,
                confidence=target.confidence,
                question=question or (previous.question if previous else None),
                comment=previous.comment if previous else None,
                asked=ask or already_asked,
            )
        )
        if ask:
            await self._store.request_comment(chat, message_id)
        return ask

    async def message(self, chat_id: int, text: str, answer: Answer) -> bool:
        """A text message of ``chat_id`` was answered with ``answer``: if the chat was asked
        for a comment, keep ``text`` as it (unless it asks something else). True if kept."""
        chat = self._hash(chat_id)
        request = await self._store.take_comment_request(chat)
        if request is None:
            return False
        message_id, requested_at = request
        if self._clock() - requested_at > COMMENT_WINDOW_SECONDS or text.startswith("/"):
            return False
        rated = await self._store.rating(chat, message_id)
        if rated is None or _asks_something_else(answer, rated.record):
            return False
        return await self._store.add_comment(chat, message_id, text.strip())


def _asks_something_else(answer: Answer, record: str) -> bool:
    return (
        answer.answered
        and answer.exercise is not None
        and answer.exercise != record
        and answer.confidence >= OTHER_TOPIC_CONFIDENCE
    )
