from qabot.documents.structure import Link, parse_structure

from conftest import SEED_CORPUS

SEED = next(SEED_CORPUS.glob("*.txt")).read_text(encoding="utf-8")


def test_seed_date_faq_and_sources_are_recognised():
    structure = parse_structure(SEED)
    assert structure.date == "2023-11-29"
    assert [pair.question for pair in structure.faq] == [
        "What is NATO?",
        "What is interoperability?",
        "How does NATO support Ukraine?",
    ]
    assert structure.faq[0].answer.startswith(
        "NATO stands for the North Atlantic Treaty Organization."
    )
    assert structure.sources == (
        Link("NATO", "https://www.nato.int/"),
        Link("NATO-Ukraine Council", "https://www.nato.int/cps/uk/natohq/176328.htm"),
    )
    body = [p for section in structure.sections for p in section.paragraphs]
    assert len(body) == 4
    # The date header shares its line with the first paragraph; it is removed, the text kept.
    assert body[0].startswith("NATO has reaffirmed its commitment")
    assert not any("Frequently Asked" in p or "https://" in p for p in body)


def test_markdown_q_and_a_style_faq():
    text = (
        "# Widget manual\n\nWidgets are small.\n\n## FAQ\n\n"
        "Q: How do I reset a widget?\nA: Hold the button for ten seconds.\n\n"
        "Q: Is it waterproof?\nA: No.\nIt must stay dry.\n\n## Warranty\n\nTwo years."
    )
    structure = parse_structure(text)
    assert [(p.question, p.answer) for p in structure.faq] == [
        ("How do I reset a widget?", "Hold the button for ten seconds."),
        ("Is it waterproof?", "No. It must stay dry."),
    ]
    assert [(s.heading, s.paragraphs) for s in structure.sections] == [
        ("Widget manual", ("Widgets are small.",)),
        ("Warranty", ("Two years.",)),
    ]


def test_numbered_questions_need_an_faq_heading():
    text = "Intro text here.\n\n1. What is this?\n\nA list item, not an FAQ."
    assert parse_structure(text).faq == ()


def test_faq_question_with_empty_answer_is_kept_for_lint():
    text = "FAQ\n\n1. What is empty?\n\n2. What is full?\n\nThis one."
    faq = parse_structure(text).faq
    assert [(p.question, p.answer) for p in faq] == [
        ("What is empty?", ""),
        ("What is full?", "This one."),
    ]


def test_inline_sources_line_and_date_with_colon():
    structure = parse_structure("Date: 2024-02-01\nBody text.\n\nSources: https://example.org/a")
    assert structure.date == "2024-02-01"
    assert structure.sources == (Link("", "https://example.org/a"),)
    assert structure.sections[0].paragraphs == ("Body text.",)


def test_bold_and_bulleted_faq_questions_lose_their_marks():
    faq = parse_structure("FAQ\n\n**Can I pay by card?**\n\nYes.\n\n* Is it free?\n\nNo.").faq
    assert [(p.question, p.answer) for p in faq] == [
        ("Can I pay by card?", "Yes."),
        ("Is it free?", "No."),
    ]


def test_an_impossible_date_is_not_a_date():
    assert parse_structure("date 2024-13-45 Body text.").date is None
    assert parse_structure("date 2024-02-29 Body text.").date == "2024-02-29"
