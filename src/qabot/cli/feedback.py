"""``qabot feedback``: what the chat's users said, and the FAQ phrasings it teaches."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

from qabot.cli.wiring import (
    DEFAULT_INDEX_DIR,
    command,
    env,
    finite_float,
    positive_float,
    positive_int,
)
from qabot.documents.corpus import alternates_path
from qabot.documents.files import printable
from qabot.errors import QabotError

# A declined question is proposed as a phrasing when its best score was at most this far
# below the answer threshold: further down, the nearest entry is more often a wrong guess.
DEFAULT_NEAR = 0.1


def feedback_path(args: argparse.Namespace) -> Path:
    """The feedback database: --feedback, else ``INDEX_DIR/feedback.sqlite3``."""
    from qabot.web.feedback import DEFAULT_FEEDBACK_FILE

    return Path(args.feedback or Path(args.index_dir) / DEFAULT_FEEDBACK_FILE)


def cmd_feedback(args: argparse.Namespace) -> int:
    """What the chat's users said, and the FAQ phrasings it teaches (QnA Maker's active learning).

    Without a subcommand, or with `summary`: the most disliked answers and the most frequent
    unanswered questions; --export FILE.csv also writes those questions as a question set
    (columns id, question, answerable, ...) that `qabot eval` reads; fill in the answers first.

    `suggest` lists questions that got a liked answer from an FAQ entry, or were declined
    with a best score at most --near below the threshold while that entry was the nearest,
    as proposed alternate phrasings of the entry, with counts and a short ID each.
    `accept ID...` appends the phrasings named to CORPUS.alternates.jsonl beside the corpus
    (the corpus the index was built from, or --corpus); the next index build (and
    `qabot serve`, which rebuilds a stale index) uses them.

    --prune-older-than DAYS deletes the questions recorded more than DAYS ago (90 when no
    number is given) and, without a subcommand, does nothing else: feedback is kept until
    pruned, so run it from cron to keep a retention period.

    Examples:
      qabot feedback
      qabot feedback --prune-older-than 90
      qabot feedback summary --top-k 20 --export reports/feedback-questions.csv
      qabot feedback suggest
      qabot feedback accept 3f2a9c01 b71e0d44
    """
    from qabot.web.feedback import FeedbackStore

    path = feedback_path(args)
    if not path.is_file():
        raise QabotError(f"No feedback yet: {str(path)!r} does not exist (run qabot serve).")
    try:
        store = FeedbackStore(path, strict=True)
        try:
            if args.prune_older_than is not None:
                pruned = store.prune(args.prune_older_than)
                print(f"Deleted {pruned} questions older than {args.prune_older_than:g} days.")
                if not args.action:
                    return 0
            action = {"suggest": _suggest, "accept": _accept}.get(args.action or "", _summary)
            return action(args, store)
        finally:
            store.close()
    except sqlite3.Error as exc:
        raise QabotError(f"{str(path)!r} is no readable feedback database ({exc}).") from exc


def _summary(args: argparse.Namespace, store) -> int:
    summary = store.summary(args.top_k)
    print(
        f"{summary.asked} questions asked, {summary.answered} answered; "
        f"{summary.likes} likes, {summary.dislikes} dislikes ({store.path})"
    )
    print("\nMost disliked answers:" if summary.disliked else "\nNo disliked answers.")
    for item in summary.disliked:
        print(f"  {item.dislikes:>4} 👎 {item.likes:>3} 👍  {printable(item.answer_id)}")
        for question in item.questions[:3]:
            print(f"           asked as: {printable(question)}")
    print("\nMost frequent unanswered questions:" if summary.unanswered else "\nNone unanswered.")
    for item in summary.unanswered:
        print(f"  {item.count:>4}×  {printable(item.question)}  (best score {item.best_score:.2f})")
    if args.export:
        try:
            count = store.export_csv(args.export, args.top_k)
        except OSError as exc:
            raise QabotError(f"Cannot write {args.export!r} ({exc.strerror or exc}).") from exc
        print(f"\nWrote {count} questions to {args.export}")
    return 0


def _suggestions(args: argparse.Namespace, store, corpus: Path | None, *, hide_known: bool):
    from qabot.documents.alternates import read_alternates_file, suggest_alternates

    threshold = args.threshold if args.threshold is not None else _answer_threshold(args)
    known = read_alternates_file(alternates_path(corpus)) if corpus and hide_known else []
    found = suggest_alternates(
        store.rows(), min_declined_score=threshold - args.near, threshold=threshold, known=known
    )
    return found, threshold


def _suggest(args: argparse.Namespace, store) -> int:
    corpus = _corpus_path(args, required=False)
    suggestions, threshold = _suggestions(args, store, corpus, hide_known=True)
    if not suggestions:
        print("No phrasings to suggest: no liked FAQ answers or near declines yet.")
        return 0
    print(
        f"{len(suggestions)} proposed phrasings (liked FAQ answers; declines scoring "
        f"{threshold - args.near:.2f}–{threshold:.2f}); accept with: qabot feedback accept ID…"
    )
    for entry in dict.fromkeys(s.passage_id for s in suggestions[: args.top_k]):
        print(f"\n{printable(entry)}")
        for s in suggestions[: args.top_k]:
            if s.passage_id == entry:
                print(
                    f"  {s.id}  {s.count:>4}×  {printable(s.question)}  "
                    f"({s.liked} liked, {s.declined} declined)"
                )
    if len(suggestions) > args.top_k:
        print(f"\n… and {len(suggestions) - args.top_k} more (raise --top-k to see them)")
    return 0


def _accept(args: argparse.Namespace, store) -> int:
    from qabot.documents.alternates import accept_alternates

    corpus = _corpus_path(args, required=True)
    suggestions, _ = _suggestions(args, store, corpus, hide_known=False)
    by_id = {s.id: s for s in suggestions}
    unknown = [i for i in args.ids if i not in by_id]
    if unknown:
        raise QabotError(
            f"Unknown suggestion ID(s): {', '.join(unknown)}. "
            "See the IDs with: qabot feedback suggest (use the same --near and --threshold)."
        )
    target = alternates_path(corpus)
    written = accept_alternates(target, [by_id[i] for i in dict.fromkeys(args.ids)])
    for s in written:
        print(f"  {printable(s.passage_id)}  ← {printable(s.question)}")
    skipped = len(dict.fromkeys(args.ids)) - len(written)
    note = f" ({skipped} already there)" if skipped else ""
    print(f"Wrote {len(written)} phrasings to {target}{note}; rebuild the index to use them.")
    return 0


def _corpus_path(args: argparse.Namespace, *, required: bool) -> Path | None:
    """--corpus, else the corpus the index was built from."""
    if args.corpus:
        return Path(args.corpus)
    from qabot.index.manifest import read_manifest

    try:
        return Path(read_manifest(args.index_dir).corpus_path)
    except QabotError:
        if required:
            raise QabotError(
                f"No index in {str(args.index_dir)!r} to say where the corpus is: "
                "pass --corpus or --index-dir."
            ) from None
        return None


def _answer_threshold(args: argparse.Namespace) -> float:
    """The threshold `open_answerer` would use by default (the verifier on): the calibrated
    model's, else the shipped one's."""
    from qabot.answering.calibrated import calibrated_model
    from qabot.answering.confidence import default_model
    from qabot.index.manifest import read_manifest

    base = default_model(verified=True)
    try:
        manifest = read_manifest(args.index_dir)
    except QabotError:
        return base.threshold
    calibrated = calibrated_model(args.index_dir, manifest, base)
    return (calibrated or base).threshold


def register(subparsers) -> None:
    feedback = command(subparsers, "feedback", cmd_feedback, "the chat's feedback; phrasings")
    _add_common_options(feedback, suppress=False)
    actions = feedback.add_subparsers(dest="action", metavar="ACTION")
    summary = actions.add_parser("summary", help="disliked answers, unanswered questions")
    suggest = actions.add_parser("suggest", help="propose alternate phrasings of FAQ entries")
    accept = actions.add_parser("accept", help="write the phrasings named to the alternates file")
    accept.add_argument("ids", nargs="+", metavar="ID", help="IDs that `suggest` printed")
    for parser in (summary, suggest, accept):
        # SUPPRESS: an option given before the action keeps its value (argparse would
        # otherwise reset it to the action parser's default).
        _add_common_options(parser, suppress=True)


def _add_common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    from qabot.web.feedback import (
        DEFAULT_FEEDBACK_FILE,
        DEFAULT_RETENTION_DAYS,
        DEFAULT_SUMMARY_TOP_K,
    )

    def default(value):
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--index-dir",
        default=default(env("QABOT_INDEX_DIR", DEFAULT_INDEX_DIR)),
        help=f"index folder holding {DEFAULT_FEEDBACK_FILE} "
        f"(default: $QABOT_INDEX_DIR or ./{DEFAULT_INDEX_DIR})",
    )
    parser.add_argument("--feedback", default=default(None), help="the SQLite file (overrides)")
    parser.add_argument(
        "--top-k",
        type=positive_int,
        default=default(DEFAULT_SUMMARY_TOP_K),
        help=f"how many of each to list and export (default {DEFAULT_SUMMARY_TOP_K})",
    )
    parser.add_argument(
        "--export", default=default(None), metavar="CSV", help="summary: write a question set"
    )
    parser.add_argument(
        "--prune-older-than",
        type=positive_float,
        nargs="?",
        const=DEFAULT_RETENTION_DAYS,
        default=default(None),
        metavar="DAYS",
        help="delete questions recorded more than DAYS ago (without DAYS: "
        f"{DEFAULT_RETENTION_DAYS}); feedback is otherwise kept for ever",
    )
    parser.add_argument(
        "--corpus",
        default=default(None),
        help="suggest/accept: the corpus whose alternates file to read and extend (default: the "
        "corpus the index was built from)",
    )
    parser.add_argument(
        "--near",
        type=finite_float,
        default=default(DEFAULT_NEAR),
        help="suggest/accept: how far below the threshold a declined question may score "
        f"(default {DEFAULT_NEAR})",
    )
    parser.add_argument(
        "--threshold",
        type=finite_float,
        default=default(None),
        help="suggest/accept: the answer threshold (default: the index's calibrated one, else "
        "qabot's default)",
    )
