"""Plain-text rendering of answers, for the terminal and the JSON command line."""

from __future__ import annotations

from typing import Any

from bot.answers import Answer, Block


def render_block(block: Block) -> list[str]:
    """Lines of one block: an optional heading, then its items in the block's style."""
    lines = [f"{block.heading}:"] if block.heading else []
    for n, item in enumerate(block.items, start=1):
        if block.style == "numbered":
            lines.append(f"{n}. {item}")
        elif block.style == "bulleted":
            lines.append(f"- {item}")
        else:
            lines.append(item)
    return lines


def render_text(answer: Answer) -> str:
    """The whole answer as plain text: title, blocks, sources and what to ask next."""
    parts = [answer.title]
    parts.extend("\n".join(render_block(b)) for b in answer.blocks)
    if answer.sources:
        parts.append("Source: " + "; ".join(answer.sources))
    if answer.suggestions:
        parts.append("Did you mean: " + ", ".join(c.label for c in answer.suggestions) + "?")
    if answer.followups:
        parts.append("More: " + ", ".join(c.label.lower() for c in answer.followups))
    return "\n\n".join(parts)


def render_json(chat: str, question: str, answer: Answer) -> dict[str, Any]:
    """The JSON object ``fitbot ask --json`` prints for one answer (a contract: keep the keys)."""
    return {
        "chat": chat,
        "question": question,
        "answered": answer.answered,
        "exercise": answer.exercise,
        "intent": answer.intent,
        "confidence": answer.confidence,
        "reply": render_text(answer),
        "suggestions": [c.label for c in answer.suggestions],
    }
