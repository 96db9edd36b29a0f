"""Prometheus metrics of one bot process, in a registry of its own.

Every application gets its own :class:`~prometheus_client.CollectorRegistry`, so two
applications (or two tests) in one process never share counts. The names, as scraped:

* ``fitbot_questions_total{outcome="answered"|"declined", intent}``: questions typed in
  Telegram, by the intent answered (``none`` when there is none, as for most declines);
* ``fitbot_answer_latency_seconds``: histogram of the time from starting to handle a question
  to its answer being sent;
* ``fitbot_unanswered_recorded_total``: questions recorded for ``fitbot report unanswered``;
* ``fitbot_updates_total{type}``: updates received, by Telegram update type;
* ``fitbot_telegram_api_errors_total{method, code}``: Bot API calls that ended in an error,
  after the transport's own retries; ``code`` is the HTTP status, or ``timeout``/``network``;
* ``fitbot_knowledge_records``, ``fitbot_knowledge_reloads_total{result="ok"|"failed"}``;
* ``fitbot_start_time_seconds`` and the standard ``process_*`` metrics.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.exposition import choose_encoder

from bot.answers import Answer

# Seconds. An answer is CPU-bound (milliseconds) plus one or two Bot API round trips.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
NO_INTENT = "none"
ANSWERED = "answered"
DECLINED = "declined"


@dataclass(frozen=True)
class Counts:
    """Counters since the process started, as ``/stats`` shows them; pairs most first."""

    answered: int
    declined: int
    by_intent: tuple[tuple[str, int], ...]
    api_errors: tuple[tuple[str, int], ...]
    updates: int


class Metrics:
    """The metrics of one application, and their exposition for ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.questions = Counter(
            "fitbot_questions",
            "Questions typed in Telegram, answered or declined, by intent",
            ("outcome", "intent"),
            registry=r,
        )
        self.latency = Histogram(
            "fitbot_answer_latency_seconds",
            "Time from starting to handle a question to its answer being sent",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.unanswered = Counter(
            "fitbot_unanswered_recorded",
            "Declined or low-confidence questions recorded for the coach",
            registry=r,
        )
        self.updates = Counter(
            "fitbot_updates", "Updates received, by Telegram update type", ("type",), registry=r
        )
        self.api_errors = Counter(
            "fitbot_telegram_api_errors",
            "Bot API calls that ended in an error (after the transport's retries), by method "
            "and HTTP status (or timeout/network)",
            ("method", "code"),
            registry=r,
        )
        self.knowledge_records = Gauge(
            "fitbot_knowledge_records", "Records of the knowledge base in service", registry=r
        )
        self.reloads = Counter(
            "fitbot_knowledge_reloads",
            "Knowledge base reloads, by result",
            ("result",),
            registry=r,
        )
        Gauge(
            "fitbot_start_time_seconds", "When the process started (Unix time)", registry=r
        ).set_to_current_time()
        ProcessCollector(registry=r)

    def question(self, answer: Answer, seconds: float) -> None:
        """Count one question typed in Telegram and how long its answer took."""
        outcome = ANSWERED if answer.answered else DECLINED
        self.questions.labels(outcome, answer.intent or NO_INTENT).inc()
        self.latency.observe(seconds)

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """The registry in the format the scraper's ``Accept`` header asks for, and its type."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type

    def counts(self) -> Counts:
        """The counters as plain numbers."""
        outcomes: dict[str, int] = {}
        intents: dict[str, int] = {}
        for labels, value in _totals(self.questions):
            outcomes[labels["outcome"]] = outcomes.get(labels["outcome"], 0) + value
            if labels["outcome"] == ANSWERED:
                intents[labels["intent"]] = intents.get(labels["intent"], 0) + value
        errors: dict[str, int] = {}
        for labels, value in _totals(self.api_errors):
            errors[labels["code"]] = errors.get(labels["code"], 0) + value
        return Counts(
            answered=outcomes.get(ANSWERED, 0),
            declined=outcomes.get(DECLINED, 0),
            by_intent=_most_first(intents),
            api_errors=_most_first(errors),
            updates=sum(value for _, value in _totals(self.updates)),
        )


def _totals(counter: Counter) -> Iterable[tuple[dict[str, str], int]]:
    """(labels, value) of each labelled child of ``counter``."""
    for metric in counter.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                yield sample.labels, int(sample.value)


def _most_first(counts: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
