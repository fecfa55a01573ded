"""Question sets and relevance files: files in, `EvalCase` records out.

A question set is JSONL (one object per line) or CSV (a header row). A row has the question
(``question`` or ``text``), an optional id (``id``, ``qid`` or ``_id``) and its gold in one of
these forms: ``expected_ids`` (ids of acceptable FAQ entries, passages or documents: a JSON
list, or ``|``-separated in CSV), ``expected_answer`` (text the answer must contain, compared
after normalising case and whitespace), or ``answerable: false`` for a question the documents
cannot answer. A BEIR-style relevance file (``query-id  corpus-id  score``, tab-separated, with
a header) may supply the gold instead; then only the questions it names are evaluated.

Every problem raises `EvalInputError` naming the file and line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from qabot.documents.chunking import Passage
from qabot.documents.row_formats import (
    JsonValueError,
    RowError,
    RowFileError,
    csv_header,
    parse_json,
    parse_rows,
    read_text,
    row_format,
)
from qabot.errors import EvalInputError
from qabot.evaluation.spreadsheet import spreadsheet_text

QUESTION_FIELDS = ("question", "text")
ID_FIELDS = ("id", "qid", "_id")
_FALSE = {"false", "0", "no", "n", "f"}
_TRUE = {"true", "1", "yes", "y", "t", ""}
_SHOWN = 10


@dataclass(frozen=True)
class EvalCase:
    """One question of a question set and its gold.

    ``gold`` maps acceptable ids to a relevance grade. ``by_document`` is set by `resolve_gold`
    when the gold names whole documents, so that the ranking is scored per document.
    ``labelled`` is False for a question with no gold at all (say, exported from chat feedback
    before anyone judged it): it is answered and reported, but not scored.
    """

    case_id: str
    question: str
    gold: dict[str, float] = field(default_factory=dict)
    expected_answer: str | None = None
    answerable: bool = True
    source: str = ""
    by_document: bool = False
    labelled: bool = True

    def gold_dict(self) -> dict:
        """The gold as recorded in reports."""
        return {
            "ids": sorted(self.gold),
            "expected_answer": self.expected_answer,
            "answerable": self.answerable if self.labelled else None,
        }


def normalise_text(text: str) -> str:
    """Case- and whitespace-insensitive form used to compare expected and given answers."""
    return " ".join(text.casefold().split())


def read_qrels(path: Path | str) -> dict[str, dict[str, float]]:
    """Read a BEIR/TREC relevance file: ``query-id corpus-id score`` per line, tab-separated.

    A header line is recognised by its non-numeric score column; TREC's four-column form
    (``query-id 0 corpus-id score``) is accepted too. Scores of 0 or less mean "not relevant".

    Raises:
        EvalInputError: the file is missing, empty or has a malformed line.
    """
    path = Path(path)
    qrels: dict[str, dict[str, float]] = {}
    lines = [(n, line) for n, line in enumerate(_read_text(path).splitlines(), 1) if line.strip()]
    if not lines:
        raise EvalInputError(f"{path}: empty relevance file (need 'query-id corpus-id score').")
    for number, line in lines:
        parts = line.split("\t") if "\t" in line else line.split()
        parts = [p.strip() for p in parts]
        if len(parts) == 4:
            parts = [parts[0], parts[2], parts[3]]
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise EvalInputError(
                f"{path}:{number}: expected 'query-id<TAB>corpus-id<TAB>score', found {line!r}"
            )
        try:
            grade = float(parts[2])
        except ValueError:
            if number == lines[0][0]:
                continue  # the header
            raise EvalInputError(f"{path}:{number}: score {parts[2]!r} is not a number") from None
        relevant = qrels.setdefault(parts[0], {})
        if grade > 0:
            relevant[parts[1]] = grade
    if not qrels:
        raise EvalInputError(f"{path}: no relevance judgements after the header.")
    return qrels


def load_question_set(
    path: Path | str,
    *,
    qrels: Mapping[str, Mapping[str, float]] | None = None,
    where: Mapping[str, str] | None = None,
) -> tuple[list[EvalCase], list[str]]:
    """Read a question set; returns its cases and warnings.

    Args:
        path: a .jsonl (.jsonl.gz) or .csv question set.
        qrels: gold from a relevance file (`read_qrels`); only the questions it names are kept.
        where: keep only rows whose field equals the value (``{"block": "1"}``).

    Raises:
        EvalInputError: malformed rows, no question column, an empty file, or rows without gold.
    """
    path = Path(path)
    rows = list(_rows(path))
    if not rows:
        raise EvalInputError(f"{path}: empty file, no questions.")
    warnings: list[str] = []
    if qrels is not None:
        ids = {_first(row, ID_FIELDS) for _, row in rows}
        missing = [qid for qid in qrels if qid not in ids]
        if missing:
            warnings.append(
                f"{len(missing)} query ids of the relevance file are not in {path.name}: "
                f"{_some(missing)}"
            )
    for name, value in (where or {}).items():
        if not any(name in row for _, row in rows):
            fields = sorted({key for _, row in rows for key in row})
            raise EvalInputError(f"{path}: no row has the field {name!r}; fields: {fields}")
        rows = [(n, row) for n, row in rows if _as_text(row.get(name)) == value.casefold()]
    if not rows:
        raise EvalInputError(f"{path}: no question left after filtering by {dict(where or {})}.")
    cases: list[EvalCase] = []
    first_line: dict[str, int] = {}
    for number, row in rows:
        case = _case(path, number, row, qrels)
        if case is None:
            continue
        if case.case_id in first_line:
            raise EvalInputError(
                f"{path}:{number}: duplicate id {case.case_id!r} (first on line "
                f"{first_line[case.case_id]})"
            )
        first_line[case.case_id] = number
        cases.append(case)
    if not cases:
        raise EvalInputError(f"{path}: none of its questions is named in the relevance file.")
    unlabelled = [f"{c.case_id} ({c.source})" for c in cases if not c.labelled]
    if unlabelled:
        warnings.append(
            f"{len(unlabelled)} questions have no gold (expected_ids, expected_answer or "
            f"answerable): answered and reported, not scored: {_some(unlabelled)}"
        )
    return cases, warnings


def resolve_gold(
    cases: Sequence[EvalCase], passages: Iterable[Passage]
) -> tuple[list[EvalCase], list[str]]:
    """Check gold ids against the index and turn expected answers into passage ids.

    Gold ids that are not in the index are listed in a warning, not scored as misses; an
    answerable question left with no known gold is set aside (and named in a warning).
    """
    passages = list(passages)
    passage_ids = {p.passage_id for p in passages}
    doc_ids = {p.doc_id for p in passages}
    texts = None
    unknown: list[str] = []
    no_answer: list[str] = []
    dropped: list[str] = []
    resolved = []
    for case in cases:
        gold = {g: w for g, w in case.gold.items() if g in passage_ids or g in doc_ids}
        unknown += [g for g in case.gold if g not in gold]
        if case.expected_answer:
            if texts is None:
                texts = [(p.passage_id, normalise_text(p.text)) for p in passages]
            needle = normalise_text(case.expected_answer)
            found = {pid: 1.0 for pid, text in texts if needle in text}
            if not found:
                no_answer.append(f"{case.case_id} ({case.source})")
            gold = {**found, **gold}
        if case.labelled and case.answerable and not gold and not case.expected_answer:
            dropped.append(f"{case.case_id} ({case.source})")
            continue
        by_document = any(g in doc_ids and g not in passage_ids for g in gold)
        resolved.append(replace(case, gold=gold, by_document=by_document))
    warnings = []
    if unknown:
        warnings.append(
            f"{len(set(unknown))} gold ids are not in the index: {_some(sorted(set(unknown)))}"
        )
    if dropped:
        warnings.append(
            f"{len(dropped)} questions have no gold left and are skipped: {_some(dropped)}"
        )
    if no_answer:
        warnings.append(
            f"{len(no_answer)} expected answers appear in no passage: {_some(no_answer)}"
        )
    if not resolved:
        # Scoring nothing must not pass for success (a CI gate with the wrong id scheme).
        raise EvalInputError("No question left to evaluate: " + "; ".join(warnings))
    return resolved, warnings


def _case(
    path: Path, number: int, row: dict, qrels: Mapping[str, Mapping[str, float]] | None
) -> EvalCase | None:
    where = f"{path}:{number}"
    question = _first(row, QUESTION_FIELDS)
    if question is None:
        raise EvalInputError(
            f"{where}: no question (need a 'question' or 'text' field; found: {sorted(row)})"
        )
    if not question.strip():
        raise EvalInputError(f"{where}: the question is empty")
    case_id = _first(row, ID_FIELDS) or f"line-{number}"
    if qrels is not None:
        if case_id not in qrels:
            return None
        return EvalCase(case_id, question, dict(qrels[case_id]), source=where)
    ids = _ids(where, row.get("expected_ids"))
    expected = row.get("expected_answer")
    if expected is not None and not isinstance(expected, str):
        raise EvalInputError(f"{where}: expected_answer must be text, not {expected!r}")
    expected = expected.strip() if expected else None
    raw_answerable = row.get("answerable")
    if not ids and not expected and (raw_answerable is None or str(raw_answerable).strip() == ""):
        return EvalCase(case_id, question, source=where, labelled=False)
    answerable = _answerable(where, raw_answerable)
    if answerable and not ids and not expected:
        raise EvalInputError(
            f"{where}: no gold: give expected_ids, expected_answer or answerable: false "
            "(or pass a relevance file with --qrels)"
        )
    if not answerable and (ids or expected):
        raise EvalInputError(f"{where}: answerable is false but the row also gives gold")
    return EvalCase(case_id, question, dict.fromkeys(ids, 1.0), expected, answerable, where)


def _rows(path: Path) -> Iterable[tuple[int, dict]]:
    text = _read_text(path)
    if not text.strip():
        raise EvalInputError(f"{path}: empty file, no questions.")
    fmt = row_format(path)
    if fmt != "jsonl":
        header = csv_header(text, fmt)
        if not any(name in QUESTION_FIELDS for name in header):
            raise EvalInputError(
                f"{path}:1: no question column (need 'question' or 'text'; found: {header})"
            )
    for row in parse_rows(text, fmt):
        if isinstance(row, RowError):
            raise EvalInputError(f"{path}:{row.line}: {row.message}")
        if fmt == "jsonl":
            yield row.line, row.fields
        else:  # a CSV written by qabot (the feedback export, results.csv) was neutralised
            yield row.line, {name: spreadsheet_text(value) for name, value in row.fields.items()}


def _read_text(path: Path) -> str:
    try:
        return read_text(path)
    except RowFileError as exc:
        raise EvalInputError(f"{path}: {exc}") from exc


def _first(row: Mapping, names: Sequence[str]) -> str | None:
    for name in names:
        value = row.get(name)
        if value is not None and not isinstance(value, dict | list):
            return str(value)
    return None


def _ids(where: str, value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            try:
                value = parse_json(value)
            except JsonValueError as exc:
                raise EvalInputError(f"{where}: expected_ids is not a JSON list ({exc})") from exc
        else:
            return [part.strip() for part in value.split("|") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise EvalInputError(f"{where}: expected_ids must be a list of ids, not {value!r:.60}")
    return [str(v).strip() for v in value if str(v).strip()]


def _answerable(where: str, value: object) -> bool:
    if value is None or isinstance(value, bool):
        return value is not False
    text = str(value).strip().casefold()
    if text in _FALSE or text in _TRUE:
        return text not in _FALSE
    raise EvalInputError(f"{where}: answerable must be true or false, not {value!r}")


def _as_text(value: object) -> str:
    return str(value).casefold()


def _some(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f", … ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else "")
