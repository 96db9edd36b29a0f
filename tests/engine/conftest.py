"""Fixtures for the engine's stage tests: the shipped knowledge base's engine, and helpers that
run one stage at a time."""

from __future__ import annotations

import pytest

from bot.context import Context
from bot.engine import Engine, Trace


@pytest.fixture(scope="package")
def trace(engine: Engine):  # type: ignore[no-untyped-def]
    """``trace(message, *before)``: what every stage made of ``message`` after ``before``."""

    def run(message: str, *before: str) -> Trace:
        context = Context()
        for text in before:
            context = engine.ask(text, context).context
        return engine.trace(message, context)

    return run
