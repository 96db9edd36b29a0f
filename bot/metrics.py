"""Prometheus metrics of one bot process, in a registry of its own.

Every application gets its own :class:`~prometheus_client.CollectorRegistry`, so two
applications (or two tests) in one process never share counts. The names, as scraped:

* ``fitbot_questions_total{outcome="answered"|"declined", intent}``: questions typed in
  Telegram, by the intent answered (``none`` when there is none, as for most declines);
* ``fitbot_answer_latency_seconds``: histogram of the time from starting to handle a question
  to its answer being sent;
* ``fitbot_unanswered_recorded_total``: questions recorded for ``fitbot report unanswered``;
* ``fitbot_updates_total{type}``: updates received, by Telegram update type;
* ``fitbot_telegram_api_errors_total{method, code}``: Bot API calls that ended in an error
  (each attempt counts; nothing is retried below the caller); ``code`` is the HTTP status, or
  ``timeout``/``network``; a 429 is not an error here but a flood wait:
* ``fitbot_telegram_flood_waits_total{method}``: calls answered 429 (waited out, then resent);
* ``fitbot_replies_total{outcome}``: replies ``sent``, or given up: ``blocked`` (403),
  ``rejected`` (400), ``expired`` (undelivered past the outbox's bound);
* ``fitbot_reply_retries_total{reason}``: failed sends that will be retried (``network``,
  ``timeout``, ``flood``, ``api``);
* ``fitbot_outbox_pending``: replies kept for delivery right now;
* ``fitbot_updates_skipped_total{reason}``: updates received but not handled (``unreadable``,
  ``duplicate``);
* ``fitbot_receiving``: 1 while updates are being received, 0 when receiving stalled or stopped;
* ``fitbot_state_errors_total``: failed reads or writes of the state file;
* ``fitbot_knowledge_records``, ``fitbot_knowledge_reloads_total{result="ok"|"failed"}``;
* ``fitbot_start_time_seconds`` and the standard ``process_*`` metrics.

Every sample is exposed with a ``replica`` label, the host name (:func:`replica_name`), so
the series of replicas behind one balancer stay apart whatever the scraper adds.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

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


def replica_name() -> str:
    """This process among replicas: the host name (a container's is its own)."""
    return socket.gethostname() or "localhost"


class Metrics:
    """The metrics of one application, and their exposition for ``/metrics`` (every sample
    labelled with ``replica``)."""

    def __init__(self, replica: str | None = None) -> None:
        self.replica = replica or replica_name()
        self.registry = CollectorRegistry()
        self._exposed = CollectorRegistry(auto_describe=False)
        self._exposed.register(_Labelled(self.registry, "replica", self.replica))
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
            "Bot API calls that ended in an error, by method and HTTP status (or "
            "timeout/network); 429s are counted as flood waits instead",
            ("method", "code"),
            registry=r,
        )
        self.flood_waits = Counter(
            "fitbot_telegram_flood_waits",
            "Bot API calls answered 429 (too many requests), by method",
            ("method",),
            registry=r,
        )
        self.replies = Counter(
            "fitbot_replies",
            "Replies delivered (sent) or given up (blocked, rejected, expired)",
            ("outcome",),
            registry=r,
        )
        self.reply_retries = Counter(
            "fitbot_reply_retries",
            "Failed reply sends that will be retried, by reason",
            ("reason",),
            registry=r,
        )
        self.outbox_pending = Gauge(
            "fitbot_outbox_pending", "Replies kept for delivery, not delivered yet", registry=r
        )
        self.skipped = Counter(
            "fitbot_updates_skipped",
            "Updates received but not handled, by reason (unreadable, duplicate)",
            ("reason",),
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

    def watch_state(self, errors: Callable[[], int], receiving: Callable[[], float]) -> None:
        """Expose the state file's failures and whether updates are being received."""
        self.registry.register(_StateCollector(errors))
        Gauge(
            "fitbot_receiving",
            "1 while updates are being received, 0 when receiving stalled or stopped",
            registry=self.registry,
        ).set_function(receiving)

    def question(self, answer: Answer, seconds: float) -> None:
        """Count one question typed in Telegram and how long its answer took."""
        outcome = ANSWERED if answer.answered else DECLINED
        self.questions.labels(outcome, answer.intent or NO_INTENT).inc()
        self.latency.observe(seconds)

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """The registry in the format the scraper's ``Accept`` header asks for, and its type."""
        encode, content_type = choose_encoder(accept)
        return encode(self._exposed), content_type

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


class _StateCollector(Collector):
    """``fitbot_state_errors_total``, read from the store's own count when scraped."""

    def __init__(self, errors: Callable[[], int]) -> None:
        self._errors = errors

    def collect(self) -> Iterator[Metric]:
        """The one counter."""
        yield CounterMetricFamily(
            "fitbot_state_errors", "Failed reads or writes of the state file", self._errors()
        )


class _Labelled(Collector):
    """Every metric of ``registry`` with one more label on every sample."""

    def __init__(self, registry: CollectorRegistry, name: str, value: str) -> None:
        self._registry = registry
        self._name = name
        self._value = value

    def collect(self) -> Iterator[Metric]:
        """The registry's metrics, labelled."""
        for metric in self._registry.collect():
            labelled = Metric(metric.name, metric.documentation, metric.type, metric.unit)
            labelled.samples = [
                sample._replace(labels={**sample.labels, self._name: self._value})
                for sample in metric.samples
            ]
            yield labelled


def _totals(counter: Counter) -> Iterable[tuple[dict[str, str], int]]:
    """(labels, value) of each labelled child of ``counter``."""
    for metric in counter.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                yield sample.labels, int(sample.value)


def _most_first(counts: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
