import gzip
import json
from pathlib import Path

import pytest

from bench.hostile_files import HOSTILE_FILES, good_corpus
from qabot.documents.chunking import chunk_documents
from qabot.documents.corpus import corpus_fingerprint, load_corpus
from qabot.documents.files import OUTSIDE_LINK
from qabot.errors import CorpusError, EmptyCorpusError

from pdfmaker import write_pdf

MARKDOWN_FAQ = """# Widget help

Widgets ship in three colours.

## FAQ

Q: How do I reset a widget?
A: Hold the power button for ten seconds.

Q: Can widgets get wet?
A: No, keep them dry.
"""

HTML_PAGE = """<html><head><title>Garden guide</title><style>p {color: red}</style></head>
<body><h1>Garden guide</h1><p>Tomatoes need <b>full sun</b>.</p>
<h2>Frequently Asked Questions</h2>
<h3>When should I water?</h3><p>Water early in the morning.</p>
<h3>Do I need fertiliser?</h3><p>Once a month in summer.</p>
<h2>Sources</h2><ul><li><a href="https://garden.example/tomatoes">Tomato notes</a></li></ul>
<script>alert('x')</script></body></html>"""


def _faq(passages):
    return {p.question: p.text for p in passages if p.kind == "faq"}


def test_markdown_faq_with_q_and_a(tmp_path: Path):
    (tmp_path / "help.md").write_text(MARKDOWN_FAQ, encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert corpus.documents[0].title == "Widget help"
    passages = chunk_documents(corpus.documents)
    assert _faq(passages) == {
        "How do I reset a widget?": "Hold the power button for ten seconds.",
        "Can widgets get wet?": "No, keep them dry.",
    }
    assert [p.text for p in passages if p.kind == "passage"] == ["Widgets ship in three colours."]


def test_html_page_structure_and_no_script(tmp_path: Path):
    (tmp_path / "garden.html").write_text(HTML_PAGE, encoding="utf-8")
    corpus = load_corpus(tmp_path)
    document = corpus.documents[0]
    assert document.title == "Garden guide"
    assert "alert" not in document.text and "color: red" not in document.text
    passages = chunk_documents(corpus.documents)
    assert _faq(passages) == {
        "When should I water?": "Water early in the morning.",
        "Do I need fertiliser?": "Once a month in summer.",
    }
    body = [p for p in passages if p.kind == "passage"]
    assert [p.text for p in body] == ["Tomatoes need full sun."]
    assert [(s.label, s.url) for s in body[0].sources] == [
        ("Tomato notes", "https://garden.example/tomatoes")
    ]


def test_pdf_made_here_is_read(tmp_path: Path):
    write_pdf(
        tmp_path / "returns.pdf",
        ["Returns are free.", "", "FAQ", "Q: Can I return a product?", "A: Yes, within 30 days."],
        title="Shop help",
    )
    corpus = load_corpus(tmp_path)
    assert corpus.documents[0].title == "Shop help"
    assert _faq(chunk_documents(corpus.documents)) == {
        "Can I return a product?": "Yes, within 30 days."
    }


def test_csv_of_faq_rows_keeps_ids(tmp_path: Path):
    (tmp_path / "faq.csv").write_text(
        "id,question,answer\nr1,What is qabot?,A QA bot.\nr2,Is it offline?,Yes.\n",
        encoding="utf-8",
    )
    corpus = load_corpus(tmp_path)
    assert [(d.doc_id, d.question, d.text) for d in corpus.documents] == [
        ("r1", "What is qabot?", "A QA bot."),
        ("r2", "Is it offline?", "Yes."),
    ]
    assert [p.passage_id for p in chunk_documents(corpus.documents)] == ["r1#faq-0", "r2#faq-0"]


def test_jsonl_gz_documents_and_bad_rows(tmp_path: Path):
    rows = [
        {"_id": "10", "title": "Cells", "text": "Cells divide."},
        {"_id": "11", "text": "No title here."},
        {"_id": "12", "other": "nothing usable"},
    ]
    raw = "\n".join(json.dumps(r) for r in rows) + "\n{not json\n"
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(raw.encode()))
    corpus = load_corpus(tmp_path)
    assert [(d.doc_id, d.title) for d in corpus.documents] == [("10", "Cells"), ("11", "11")]
    messages = [str(p) for p in corpus.problems]
    assert any("c.jsonl.gz:3" in m and "neither" in m for m in messages)
    assert any("c.jsonl.gz:4" in m and "malformed" in m for m in messages)


def test_bad_files_are_named_and_the_rest_still_loads(tmp_path: Path, monkeypatch):
    (tmp_path / "good.txt").write_text("A good paragraph about apples.", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "empty.md").write_text("  \n", encoding="utf-8")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    (tmp_path / "locked.txt").write_text("secret", encoding="utf-8")
    (tmp_path / "ignored.docx").write_bytes(b"zip")
    real_read = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "locked.txt":  # root can read anything, so simulate the denial
            raise PermissionError(13, "Permission denied")
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    corpus = load_corpus(tmp_path)
    assert [d.doc_id for d in corpus.documents] == ["good.txt"]
    problems = {p.path: p.message for p in corpus.problems}
    assert "not UTF-8" in problems["latin1.txt"] and "0xe9" in problems["latin1.txt"]
    assert "binary" in problems["binary.txt"]
    assert "empty" in problems["empty.md"]
    assert "PDF" in problems["broken.pdf"]
    assert "Permission denied" in problems["locked.txt"]
    assert "ignored.docx" not in problems


def test_empty_corpus_is_an_error_naming_the_problems(tmp_path: Path):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    with pytest.raises(EmptyCorpusError, match=r"empty\.txt: empty file"):
        load_corpus(tmp_path)
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "missing")


def test_fingerprint_changes_with_content(tmp_path: Path):
    (tmp_path / "a.txt").write_text("one", encoding="utf-8")
    before = corpus_fingerprint(tmp_path)
    assert corpus_fingerprint(tmp_path) == before
    (tmp_path / "a.txt").write_text("two", encoding="utf-8")
    assert corpus_fingerprint(tmp_path) != before


def test_an_index_inside_the_corpus_is_not_indexed(tmp_path: Path, fake_embedder):
    from qabot.index.build import build_index, check_fresh

    (tmp_path / "doc.md").write_text("# Doc\n\nApples are red.", encoding="utf-8")
    site = tmp_path / "site"
    site.mkdir()
    (site / "manifest.json").write_text('{"name": "a web app"}', encoding="utf-8")
    (site / "page.html").write_text("<p>Pears are green.</p>", encoding="utf-8")
    first = build_index(tmp_path, tmp_path / "idx", fake_embedder).manifest
    second = build_index(tmp_path, tmp_path / "idx", fake_embedder).manifest
    assert first.documents == second.documents == 2  # doc.md and the site's page, not idx/
    assert first.corpus_fingerprint == second.corpus_fingerprint
    check_fresh(second, tmp_path)


def test_row_id_zero_is_kept(tmp_path: Path):
    (tmp_path / "rows.jsonl").write_text(
        '{"id": 0, "text": "zero"}\n{"_id": "", "id": "", "text": "no id"}\n', encoding="utf-8"
    )
    assert [d.doc_id for d in load_corpus(tmp_path).documents] == ["0", "rows.jsonl:2"]


def test_alternate_questions_from_rows_and_from_the_alternates_file(tmp_path, fake_embedder):
    import json

    from qabot.documents.corpus import alternates_path, corpus_fingerprint, load_corpus
    from qabot.index.build import build_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text(
        json.dumps({"id": "j", "question": "Q one?", "answer": "A.", "questions": ["Q 1?", " "]})
        + "\n",
        encoding="utf-8",
    )
    (corpus / "b.csv").write_text(
        "id,question,answer,questions\nc,Q two?,B.,Q 2? | Q two?|second\n", encoding="utf-8"
    )
    loaded = {d.doc_id: d.questions for d in load_corpus(corpus).documents}
    assert loaded == {"j": ("Q 1?",), "c": ("Q 2?", "second")}  # the question itself once
    before = corpus_fingerprint(corpus)
    path = alternates_path(corpus)
    assert path == tmp_path / "corpus.alternates.jsonl"
    path.write_text(
        json.dumps({"passage_id": "c#faq-0", "question": "number two?"})
        + "\n"
        + json.dumps({"passage_id": "nope#faq-9", "question": "lost?"})
        + "\nnot json\n",
        encoding="utf-8",
    )
    assert corpus_fingerprint(corpus) != before  # an edit makes the index stale
    index = build_index(corpus, tmp_path / "idx", fake_embedder)
    assert index.passage("c#faq-0").alternates == ("Q 2?", "second", "number two?")
    assert index.passage("j#faq-0").alternates == ("Q 1?",)
    problems = " ".join(index.manifest.problems)
    assert "'nope#faq-9'" in problems and "malformed JSON" in problems


@pytest.mark.parametrize("kind", sorted(HOSTILE_FILES))
def test_each_hostile_file_is_skipped_by_name_and_the_rest_loads(tmp_path, kind):
    corpus = good_corpus(tmp_path / "corpus")
    name = HOSTILE_FILES[kind](corpus)
    loaded = load_corpus(corpus)
    assert [d.path for d in loaded.documents] == ["good.txt"]
    assert [p.path.split(":")[0] for p in loaded.problems][:1] == [name]
    # Every problem prints as one line of UTF-8, the bad name escaped.
    assert all("\n" not in str(p) and str(p).encode("utf-8") for p in loaded.problems)
    assert corpus_fingerprint(corpus) == loaded.fingerprint


def test_names_are_escaped_when_printed(tmp_path):
    corpus = good_corpus(tmp_path / "corpus")
    (corpus / "red\x1b[31m\nline.txt").write_text("", encoding="utf-8")
    (problem,) = load_corpus(corpus).problems
    assert problem.path == "red\x1b[31m\nline.txt"  # kept as found
    assert str(problem) == "red\\x1b[31m\\nline.txt: empty file"


def test_symlinks_leaving_the_corpus_are_skipped_unless_followed(tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwords.txt").write_text("The root password is hunter2.", encoding="utf-8")
    corpus = good_corpus(tmp_path / "corpus")
    (corpus / "inside.txt").write_text("Plums ripen in September.", encoding="utf-8")
    (corpus / "link-out.txt").symlink_to(outside / "passwords.txt")
    (corpus / "folder-out").symlink_to(outside)
    (corpus / "link-in.txt").symlink_to(corpus / "inside.txt")
    loaded = load_corpus(corpus)
    assert [d.path for d in loaded.documents] == ["good.txt", "inside.txt", "link-in.txt"]
    assert sorted(str(p) for p in loaded.problems) == [
        f"folder-out: {OUTSIDE_LINK}",
        f"link-out.txt: {OUTSIDE_LINK}",
    ]
    followed = load_corpus(corpus, follow_symlinks=True)
    assert "hunter2" in " ".join(d.text for d in followed.documents)
    assert {"folder-out/passwords.txt", "link-out.txt"} <= {d.path for d in followed.documents}
    assert followed.problems == ()
    assert followed.fingerprint != loaded.fingerprint


def test_a_symlink_loop_is_read_once(tmp_path):
    corpus = good_corpus(tmp_path / "corpus")
    (corpus / "sub").mkdir()
    (corpus / "sub" / "again").symlink_to(corpus)
    assert [d.path for d in load_corpus(corpus, follow_symlinks=True).documents] == ["good.txt"]
