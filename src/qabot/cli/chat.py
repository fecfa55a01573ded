"""``qabot serve`` and ``qabot feedback``: the chat server and what its users said."""

from __future__ import annotations

import argparse
from pathlib import Path

from qabot.cli.wiring import (
    DEFAULT_INDEX_DIR,
    add_index_options,
    command,
    env,
    log,
    non_negative_int,
    open_answerer,
    positive_int,
)
from qabot.errors import QabotError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def _feedback_path(args: argparse.Namespace) -> Path:
    from qabot.web.feedback import DEFAULT_FEEDBACK_FILE

    return Path(args.feedback or Path(args.index_dir) / DEFAULT_FEEDBACK_FILE)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the chat page, the JSON API and the embeddable widget.

    Builds the index first when it is missing, stale or made with another model; loads the
    model and the index once. Binds 127.0.0.1 unless --host says otherwise. By default any
    site may embed the chat; --allowed-origin (repeatable) limits embedding and browser API
    calls to the sites named. Questions and votes are stored in --feedback (SQLite).

    Pages:
      http://HOST:PORT/chat/      the chat          http://HOST:PORT/docs        the API
      http://HOST:PORT/widget.js  the launcher      http://HOST:PORT/healthz     health

    Examples:
      qabot serve
      qabot serve --port 8000 --allowed-origin https://www.example.org
      curl -s localhost:7860/api/ask -H 'content-type: application/json' \\
           -d '{"question": "What is NATO?"}'
    """
    import uvicorn

    from qabot.web.feedback import FeedbackStore
    from qabot.web.server import build_app

    answerer = open_answerer(
        args.corpus, args.index_dir, model=args.model, alternatives=args.alternatives
    )
    answerer.answer("warm up")  # the first real question should not pay for lazy set-up
    feedback = FeedbackStore(_feedback_path(args))
    origins = args.allowed_origin or ["*"]
    app = build_app(answerer, feedback=feedback, allowed_origins=origins, title=args.title)
    if origins == ["*"]:
        log("Any site may embed the chat and call the API (restrict with --allowed-origin).")
    else:
        log(f"Only these sites may embed the chat: {', '.join(origins)}")
    log(f"Feedback is stored in {feedback.path}")
    log(f"Chat on http://{args.host}:{args.port}/chat/ (API docs at /docs)")
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    """Summarise the chat's feedback: most disliked answers, most frequent unanswered questions.

    With --export FILE.csv, also writes those questions as a question set (columns id,
    question, answerable, ...) that `qabot eval` reads; fill in the expected answers first.

    Examples:
      qabot feedback
      qabot feedback --top 20 --export reports/feedback-questions.csv
    """
    from qabot.web.feedback import FeedbackStore

    path = _feedback_path(args)
    if not path.is_file():
        raise QabotError(f"No feedback yet: {str(path)!r} does not exist (run qabot serve).")
    store = FeedbackStore(path)
    summary = store.summary(args.top)
    print(
        f"{summary.asked} questions asked, {summary.answered} answered; "
        f"{summary.likes} likes, {summary.dislikes} dislikes ({path})"
    )
    print("\nMost disliked answers:" if summary.disliked else "\nNo disliked answers.")
    for item in summary.disliked:
        print(f"  {item.dislikes:>4} 👎 {item.likes:>3} 👍  {item.answer_id}")
        for question in item.questions[:3]:
            print(f"           asked as: {question}")
    print("\nMost frequent unanswered questions:" if summary.unanswered else "\nNone unanswered.")
    for item in summary.unanswered:
        print(f"  {item.count:>4}×  {item.question}  (best score {item.best_score:.2f})")
    if args.export:
        count = store.export_csv(args.export, args.top)
        print(f"\nWrote {count} questions to {args.export}")
    store.close()
    return 0


def register(subparsers) -> None:
    from qabot.answering import DEFAULT_ALTERNATIVES

    serve = command(subparsers, "serve", cmd_serve, "serve the chat, the API and the widget")
    add_index_options(serve, corpus_positional=False)
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})"
    )
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    serve.add_argument(
        "--allowed-origin",
        action="append",
        metavar="URL",
        help="a site allowed to embed the chat and call the API, e.g. https://www.example.org "
        "(repeatable; default: any site)",
    )
    serve.add_argument(
        "--feedback",
        default=None,
        help="SQLite file for questions and votes (default: INDEX_DIR/feedback.sqlite3)",
    )
    serve.add_argument("--title", default="qabot", help="the chat page's title")
    serve.add_argument(
        "--alternatives",
        type=non_negative_int,
        default=None,
        help=f"next-best matches shown beside each answer (default {DEFAULT_ALTERNATIVES})",
    )
    serve.add_argument("--log-level", default="warning", help="uvicorn log level")

    feedback = command(subparsers, "feedback", cmd_feedback, "summarise the chat's feedback")
    feedback.add_argument(
        "--index-dir",
        default=env("QABOT_INDEX_DIR", DEFAULT_INDEX_DIR),
        help="index folder holding feedback.sqlite3 (default: $QABOT_INDEX_DIR or ./index)",
    )
    feedback.add_argument("--feedback", default=None, help="the SQLite file (overrides)")
    feedback.add_argument("--top", type=positive_int, default=10, help="how many of each to list")
    feedback.add_argument("--export", default=None, metavar="CSV", help="write a question set")
