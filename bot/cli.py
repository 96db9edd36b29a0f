"""The ``fitbot`` command: ask, chat, kb check, run. Every command honours FITBOT_KNOWLEDGE."""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.errors import ConfigError, KnowledgeError
from bot.signals import defer_hangup

# The engine, the knowledge loader and the renderers are imported where they are used: until
# ``fitbot run`` has deferred SIGHUP (its first step), a SIGHUP ends the process, and these
# imports are most of the time before it.
if TYPE_CHECKING:
    from bot.answers import Answer
    from bot.engine import Engine, Reply

EXIT_BROKEN_KNOWLEDGE = 2
EXIT_BAD_CONFIG = 2
SUBCOMMANDS = frozenset({"ask", "chat", "kb", "eval", "report", "run"})


def _engine(directory: Path | None) -> Engine:
    from bot.engine import Engine
    from bot.knowledge import default_knowledge_dir, load_knowledge

    return Engine(load_knowledge(directory or default_knowledge_dir()))


def reply_json(chat: str, question: str, reply: Reply) -> dict[str, Any]:
    """The JSON object ``fitbot ask --json`` prints for one answer (a contract: keep the keys)."""
    from bot.render import render_json

    return render_json(chat, question, reply.answer)


# Answers kept for repeated (message, context) pairs while reading stdin: answering is
# deterministic, and a batch often asks the same thing many times.
ANSWER_CACHE_SIZE = 4096


def _json_lines(engine: Engine, lines: Iterable[str], out: TextIO) -> None:
    """Answer stdin lines in order; lines with the same chat id share context."""
    from bot.context import Context

    contexts: dict[str, Context] = {}
    ask = functools.lru_cache(maxsize=ANSWER_CACHE_SIZE)(engine.ask)
    body = functools.lru_cache(maxsize=ANSWER_CACHE_SIZE)(_json_body)
    for n, raw in enumerate(lines):
        line = raw.rstrip("\n")
        chat, text = f"line-{n + 1}", line
        if line.lstrip().startswith("{"):
            try:
                item = json.loads(line)
                chat, text = str(item.get("chat", chat)), str(item.get("text", ""))
            except (ValueError, AttributeError):
                pass  # not JSON after all: answer the line as plain text
        reply = ask(text, contexts.get(chat, Context()))
        contexts[chat] = reply.context
        head = json.dumps({"chat": chat, "question": text}, ensure_ascii=False)
        out.write(head[:-1] + ", " + body(reply.answer) + "\n")
        out.flush()


def _json_body(answer: Answer) -> str:
    """The JSON object of one answer without its chat and question, as ``"k": v, ...``."""
    from bot.render import render_json

    data = render_json("", "", answer)
    del data["chat"], data["question"]
    return json.dumps(data, ensure_ascii=False)[1:]


def cmd_ask(args: argparse.Namespace) -> int:
    """``fitbot ask``: one question, or JSON lines from stdin."""
    from bot.render import render_text

    engine = _engine(args.knowledge)
    question = " ".join(args.question)
    if args.json and not question:
        _json_lines(engine, sys.stdin, sys.stdout)
        return 0
    if not question:
        print(
            'fitbot ask: give a question, e.g. fitbot ask "how do I do a reverse squat?"',
            file=sys.stderr,
        )
        return 2
    reply = engine.ask(question)
    if args.json:
        print(json.dumps(reply_json("cli", question, reply), ensure_ascii=False))
    else:
        print(render_text(reply.answer))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """``fitbot chat``: a terminal conversation that keeps context."""
    from bot.context import Context
    from bot.render import render_text

    engine = _engine(args.knowledge)
    context = Context()
    print(render_text(engine.ask("/start").answer))
    print("\n(Type a question; /reset forgets the topic; Ctrl-D or /quit ends.)")
    while True:
        try:
            line = input("\nyou> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if line.strip() in ("/quit", "/exit"):
            return 0
        reply = engine.ask(line, context)
        context = reply.context
        print("\n" + render_text(reply.answer))


def cmd_kb_check(args: argparse.Namespace) -> int:
    """``fitbot kb check [DIR]``: list every problem with file and field."""
    from bot.knowledge import default_knowledge_dir, load_knowledge
    from bot.review import MARKS, unreviewed

    directory = (
        Path(args.directory) if args.directory else (args.knowledge or default_knowledge_dir())
    )
    try:
        kb = load_knowledge(directory)
    except KnowledgeError as exc:
        print(f"{directory}: {exc}", file=sys.stderr)
        return 1
    drafts = unreviewed(directory)
    if drafts and args.strict:
        print(
            f"{directory}: {len(drafts)} value(s) not reviewed; --strict refuses drafts:\n"
            + "\n".join(f"  {p}" for p in drafts),
            file=sys.stderr,
        )
        return 1
    kinds = [r.kind for r in kb.records.values()]
    print(
        f"{directory}: ok ({kinds.count('exercise')} exercises, {kinds.count('topic')} topics, "
        f"{len(kb.articles)} source articles)"
    )
    if drafts:
        files = len({p.file for p in drafts})
        print(
            f"{directory}: {len(drafts)} value(s) in {files} file(s) still marked "
            f"{' or '.join(MARKS)} (fitbot kb check --strict refuses them)"
        )
    return 0


def cmd_kb_draft(args: argparse.Namespace) -> int:
    """``fitbot kb draft ARTICLE.txt [--out DIR]``: draft knowledge files from an article."""
    from bot.drafting import run_draft

    return run_draft(args)


def cmd_run(args: argparse.Namespace) -> int:
    """``fitbot run``: the Telegram bot."""
    from bot.settings import Settings
    from bot.telegram.app import run

    return run(Settings.from_env(args))


def cmd_eval(args: argparse.Namespace) -> int:
    """``fitbot eval``: score labelled questions and dialogs, beside the peers."""
    from bot.evaluation import run

    return run(args)


def cmd_report_unanswered(args: argparse.Namespace) -> int:
    """``fitbot report unanswered``: what people asked that went unanswered, grouped."""
    from bot.report import run_unanswered

    return run_unanswered(args)


def cmd_report_feedback(args: argparse.Namespace) -> int:
    """``fitbot report feedback``: the 👍/👎 on answers, per exercise and section."""
    from bot.feedback_report import run_feedback

    return run_feedback(args)


def cmd_report_html(args: argparse.Namespace) -> int:
    """``fitbot report --html FILE``: the coach's report as one self-contained page."""
    if not args.html:
        print(
            "fitbot report: give a report (unanswered, feedback) or --html FILE",
            file=sys.stderr,
        )
        return 2
    from bot.html_report import run_html

    return run_html(
        argparse.Namespace(
            html=args.html,
            since=args.report_since,
            state=args.report_state,
            knowledge=args.knowledge,
        )
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    from bot.evaluation import add_eval_arguments
    from bot.feedback_report import add_feedback_arguments
    from bot.report import add_unanswered_arguments
    from bot.settings import add_run_arguments

    parser = argparse.ArgumentParser(prog="fitbot", description=__doc__)
    parser.add_argument(
        "--knowledge",
        type=Path,
        default=None,
        help="knowledge directory (default: $FITBOT_KNOWLEDGE or the shipped one)",
    )
    sub = parser.add_subparsers(dest="command")

    ask = sub.add_parser("ask", help="answer one question (or JSON lines from stdin with --json)")
    ask.add_argument("question", nargs="*")
    ask.add_argument("--json", action="store_true", help="print JSON (one object per line)")
    ask.set_defaults(func=cmd_ask)

    chat = sub.add_parser("chat", help="talk to the bot in the terminal")
    chat.set_defaults(func=cmd_chat)

    kb = sub.add_parser("kb", help="knowledge base tools")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    check = kb_sub.add_parser("check", help="validate a knowledge directory")
    check.add_argument("directory", nargs="?")
    check.add_argument(
        "--strict",
        action="store_true",
        help="also refuse values still marked REWRITE: or TODO: (unreviewed drafts)",
    )
    check.set_defaults(func=cmd_kb_check)
    draft = kb_sub.add_parser(
        "draft",
        help="draft knowledge files from an article (plain text), every value marked for review",
    )
    # Declared here, not in bot.drafting, so that every other command starts without it.
    draft.add_argument(
        "article", metavar="ARTICLE.txt", type=Path, help="the article, as plain text"
    )
    draft.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=Path("drafts"),
        help="knowledge directory to write the draft into (default: drafts/)",
    )
    draft.add_argument(
        "--force", action="store_true", help="overwrite a draft file that exists already"
    )
    draft.set_defaults(func=cmd_kb_draft)

    ev = sub.add_parser("eval", help="score labelled questions and dialogs (pass rates, peers)")
    add_eval_arguments(ev)
    ev.set_defaults(func=cmd_eval)

    report = sub.add_parser(
        "report",
        help="reports for the coach",
        description="A report on the terminal (unanswered, feedback), or --html FILE: questions "
        "per day, answered/declined/👍/👎 over time, the most missed questions with "
        "suggestions and the helpful rate per exercise, on one self-contained page.",
    )
    report.add_argument("--html", metavar="FILE", help="write the whole report as one HTML page")
    report.add_argument(
        "--since",
        dest="report_since",
        metavar="SINCE",
        help="with --html: only since DATE (2024-05-01) or DURATION ago (30m, 24h, 7d, 2w)",
    )
    report.add_argument(
        "--state",
        dest="report_state",
        metavar="STATE",
        help="with --html: state file, or the replicas' redis:// URL (FITBOT_STATE)",
    )
    report.set_defaults(func=cmd_report_html)
    report_sub = report.add_subparsers(dest="report_command")
    unanswered = report_sub.add_parser(
        "unanswered", help="questions the bot declined or was unsure about, grouped by topic"
    )
    add_unanswered_arguments(unanswered)
    unanswered.set_defaults(func=cmd_report_unanswered)
    feedback = report_sub.add_parser(
        "feedback", help="how people rated the answers (👍/👎), per exercise and section"
    )
    add_feedback_arguments(feedback)
    feedback.set_defaults(func=cmd_report_feedback)

    run = sub.add_parser("run", help="run the Telegram bot")
    add_run_arguments(run)
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fitbot`` command."""
    words = sys.argv[1:] if argv is None else list(argv)
    # Before the parser, whose subcommands import most of fitbot: SIGHUP must not end a bot
    # that is starting. A guess from the words; the parser's answer below settles it.
    deferred = "run" in words or not any(w in SUBCOMMANDS for w in words)
    if deferred:
        defer_hangup()
    args = build_parser().parse_args(argv)
    if args.command is None:
        args.func = cmd_run if os.environ.get("TELEGRAM_BOT_TOKEN") else cmd_chat
    if deferred and args.func is not cmd_run:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)  # a terminal chat ends with its terminal
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # The reader went away ("fitbot ask ... | head -1"): nothing more to say, quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KnowledgeError as exc:
        print(f"fitbot: refusing to start: {exc}", file=sys.stderr)
        return EXIT_BROKEN_KNOWLEDGE
    except ConfigError as exc:
        print(f"fitbot: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG


if __name__ == "__main__":
    sys.exit(main())
