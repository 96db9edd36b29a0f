"""The answer engine: a message and a chat's context in, a structured answer and the new
context out. No I/O and no Telegram: every front end (terminal, JSON, Telegram) calls this.

One way through, each stage a module with a typed seam::

    analyse    text -> Analysis              (bot.engine.analyse)
    recognise  Analysis -> Recognition        (bot.engine.recognise, bot.engine.names)
    interpret  Recognition + Context -> Decision   (bot.engine.interpret)
    retrieve   Decision's Query -> ranked facts    (bot.engine.retrieve, bot.engine.facts)
    compose    Decision + facts -> Answer          (bot.engine.compose, several, replies)

Tuning lives in :mod:`bot.engine.tuning`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bot.answers import Answer, Block
from bot.context import Context
from bot.engine.analyse import Analysis, Analyzer, English
from bot.engine.cards import Cards
from bot.engine.compose import Composed, Composer
from bot.engine.facts import Section, facts_of
from bot.engine.interpret import Decision, Interpreter, Move
from bot.engine.recognise import Recogniser, Recognition
from bot.engine.replies import MAX_REPLY_CHARS, Replies
from bot.engine.retrieve import FactIndex, Query
from bot.engine.several import Several
from bot.engine.tuning import DEFAULT, Tuning
from bot.knowledge import KnowledgeBase
from bot.text import words

__all__ = ["MAX_REPLY_CHARS", "Engine", "Reply", "Trace"]

# Only this much of a message is read; the rest cannot change which exercise is meant.
MAX_QUESTION_CHARS = 1000
FRESH = Context()
_COMMAND = re.compile(r"^/([A-Za-z0-9_]+)(?:@\w+)?\s*(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Reply:
    """An answer and the chat context to keep for the next message."""

    answer: Answer
    context: Context


@dataclass(frozen=True)
class Trace:
    """What each stage made of one message (for ``fitbot eval``'s per-stage report)."""

    analysis: Analysis
    recognition: Recognition
    decision: Decision
    reply: Reply


class Engine:
    """Answers questions from one knowledge base."""

    def __init__(
        self, kb: KnowledgeBase, tuning: Tuning = DEFAULT, english: English | None = None
    ) -> None:
        self.kb = kb
        self.tuning = tuning
        self.analyzer = Analyzer(
            kb.language.synonyms,
            _knowledge_words(kb),
            _domain_words(kb),
            english or English.shipped(),
            fillers=kb.language.fillers,
        )
        self.recogniser = Recogniser(kb, self.analyzer, tuning)
        self.index = FactIndex(kb, self.analyzer, tuning)
        self.interpreter = Interpreter(kb, self.recogniser.names, self.index, tuning)
        self.replies = Replies(kb)
        self.cards = Cards(kb, self.analyzer, self.replies.situations)
        self.composer = Composer(kb, self.index, self.cards, self.replies, tuning)
        self.several = Several(self.composer)

    # -- public API ----------------------------------------------------------------------

    def catalogue(self) -> tuple[tuple[str, str], ...]:
        """(record id, display name) of every exercise, then every topic."""
        records = sorted(self.kb.records.values(), key=lambda r: r.kind != "exercise")
        return tuple((r.id, r.name) for r in records)

    def ask(self, text: str, context: Context = FRESH) -> Reply:
        """Answer one message (free text or a command) in the given context."""
        text = text.strip()[:MAX_QUESTION_CHARS]
        if not text:
            return Reply(self.replies.prompt(), context)
        command = _COMMAND.match(text)
        if command:
            return self._command(command.group(1).lower(), command.group(2).strip(), context)
        return self.trace(text, context).reply

    def trace(self, text: str, context: Context = FRESH) -> Trace:
        """Answer free text, keeping what every stage made of it."""
        analysis = self.analyzer.analyse(text[:MAX_QUESTION_CHARS])
        recognition = self.recogniser.recognise(analysis)
        decision = self.interpreter.decide(recognition, context)
        composed = self._compose(decision)
        said = tuple(t for t in recognition.topic if t not in recognition.cue_terms)
        after = replace(composed.context, said=said)
        return Trace(analysis, recognition, decision, Reply(composed.answer, after))

    def show(self, exercise: str, intent: str, context: Context = FRESH) -> Reply:
        """One section of a record, as a button press or command asks for it."""
        record = self.kb.records.get(exercise)
        if record is None or (intent not in Section.__members__.values() and intent != "overview"):
            return Reply(self.replies.decline(None), context)
        decision = Decision(
            Move.ANSWER,
            self.recogniser.recognise(self.analyzer.analyse("")),
            replace(context, pending=()),
            records=(exercise,),
            query=Query(
                topic={}, records={exercise: 0.95}, asks={}, situations=context.constraints
            ),
            strengths={exercise: 0.95},
        )
        if intent == "overview":
            composed = self.composer.overview(decision, record)
        elif self.index.has_section(exercise, Section(intent)):
            composed = self.composer.section(decision, record, Section(intent))
        else:
            composed = self.composer.missing(decision, record, Section(intent))
        return Reply(composed.answer, composed.context)

    # -- stages --------------------------------------------------------------------------

    def _compose(self, d: Decision) -> Composed:
        move = d.move
        if move is Move.ANSWER:
            return self.composer.answer(d)
        if move is Move.COMPARE:
            return self.several.compare(d)
        if move is Move.CHOOSE:
            return self.several.choose(d)
        if move is Move.SAFETY:
            return self.several.safety(d)
        if move is Move.FOR_MUSCLE:
            return self.several.for_muscle(d)
        if move is Move.FOR_SITUATION:
            return self.several.for_situation(d)
        if move is Move.NOTED:
            return Composed(self.replies.noted(d.recognition.situations), d.context)
        if move is Move.SUGGEST:
            return Composed(
                self.replies.suggest(d.suggestions), replace(d.context, pending=d.suggestions)
            )
        if move is Move.TALK:
            return Composed(self.replies.talk(d.talk or ""), d.context)
        if move is Move.TELL_APART:
            return self.composer.tell_apart(d)
        if move is Move.DISTINCT:
            rid = d.records[0]
            item = d.recognition.distinct
            assert item is not None
            return Composed(self.replies.distinct(self.kb.records[rid], item[1]), d.context)
        offer = [self.kb.records[r] for r in d.records[:2]]
        return Composed(self.replies.decline(d.uncovered, offer), d.context)

    # -- commands ------------------------------------------------------------------------

    def _command(self, name: str, arg: str, context: Context) -> Reply:
        if name in ("start", "help"):
            return Reply(self.replies.welcome(name == "help"), context)
        if name == "exercises":
            return Reply(self.replies.covered(), context)
        if name == "reset":
            note = Block(
                None,
                (
                    "Done: I have forgotten our topic and anything you told me "
                    "about your situation.",
                ),
                "paragraph",
            )
            return Reply(
                Answer(True, "Fresh start", (note,), intent="reset", confidence=1.0),
                context.reset(),
            )
        if name in ("checklist", "alternatives"):
            return self._section_command(name, arg, context)
        note = Block(
            None,
            (f"I don't know the command /{name}. Send /help to see what I can do.",),
            "paragraph",
        )
        return Reply(Answer(False, "Unknown command", (note,)), context)

    def _section_command(self, intent: str, arg: str, context: Context) -> Reply:
        rec = self.recogniser.recognise(self.analyzer.analyse(arg)) if arg else None
        named = rec.records if rec else ()
        target = (
            named[0]
            if named
            else (context.exercises[0] if context.exercises and not arg else None)
        )
        if target is None:
            what = f"I don't cover {arg!r}." if arg else "Which exercise?"
            note = Block(None, (f"{what} Try for example: /{intent} reverse squat",), "paragraph")
            return Reply(Answer(False, "Which exercise?", (note,), intent=intent), context)
        if rec is not None:
            constraints = tuple(dict.fromkeys((*context.constraints, *rec.situations)))
            context = replace(context, constraints=constraints)
        return self.show(target, intent, context)


def _knowledge_words(kb: KnowledgeBase) -> set[str]:
    """Every word the knowledge base and its language data use (never corrected)."""
    vocab: set[str] = set()
    for record in kb.records.values():
        for fact in facts_of(record):
            vocab.update(words(f"{fact.text} {fact.about} {' '.join(fact.questions)}"))
        vocab.update(words(" ".join((record.name, *record.aliases, *record.keywords))))
        for d in record.distinct_from:
            vocab.update(words(" ".join((d.name, *d.cues))))
    lang = kb.language
    for canonical, variants in lang.synonyms.items():
        vocab.update(words(" ".join((canonical, *variants))))
    for cues in (
        *lang.intents.values(),
        *lang.intent_hints.values(),
        *lang.references.values(),
        *lang.amounts.values(),
        lang.fillers,
    ):
        vocab.update(words(" ".join(cues)))
    for sit in lang.situations:
        vocab.update(words(" ".join(sit.cues)))
    for group in (
        lang.safety_cues,
        lang.exercise_nouns,
        lang.generic_modifiers,
        *lang.small_talk.values(),
        lang.stopwords,
        lang.corrections,
        lang.pronouns,
    ):
        vocab.update(words(" ".join(group)))
    return vocab


def _domain_words(kb: KnowledgeBase) -> set[str]:
    """Words a misspelling may be read as: everything the knowledge base says."""
    return _knowledge_words(kb) - set(kb.language.stopwords)
