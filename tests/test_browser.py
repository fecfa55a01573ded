"""Real-browser tests: Debian's Chromium, driven by Playwright, against a started server.

A host page served from a different port embeds the chat both ways (the widget.js launcher and
an iframe). Screenshots go to artifacts/ for a person to look at.
"""

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from qabot.web.server import build_app

from conftest import ROOT
from serving import running, static_site

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts"
DEMO_PAGE = ROOT / "examples" / "embed-demo.html"
DEMO_SERVER = "http://127.0.0.1:7860"
TEXTBOX = "textarea[data-testid=textbox]"
SUBMIT = "button[data-testid=submit-button]"
BOT = "[data-testid=bot]"
TIMEOUT = 30_000

if not Path(CHROMIUM).exists():
    # Never skipped into green: a missing browser is a set-up error to fix.
    pytest.fail(f"{CHROMIUM} is missing: run `make browser`", pytrace=False)


@pytest.fixture(scope="module")
def server(seed_server):
    return seed_server


@pytest.fixture(scope="module")
def host_site(server, tmp_path_factory):
    """The repository's demo host page, pointed at the test server, on another port."""
    site = tmp_path_factory.mktemp("host-site")
    page = DEMO_PAGE.read_text(encoding="utf-8").replace(DEMO_SERVER, server)
    (site / "index.html").write_text(page, encoding="utf-8")
    with static_site(site) as url:
        assert url.rsplit(":", 1)[1] != server.rsplit(":", 1)[1]
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1200, "height": 950},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser):
    """A fresh tab that records every request, dialog and error the page makes."""
    page = browser.new_page()
    page.requests, page.dialogs, page.errors = [], [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    offsite = [u for u in page.requests if not u.startswith(("http://127.0.0.1:", "data:"))]
    assert offsite == [], "everything must be served locally (no CDN)"
    page.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"browser-{name}.png"), full_page=True)


def ask(chat, question: str) -> None:
    """Type a question in a chat (a page or a frame) and wait for the bot's new reply."""
    bots = chat.locator(BOT)
    before = bots.count()
    chat.locator(TEXTBOX).fill(question)
    chat.locator(SUBMIT).click()
    expect(bots).to_have_count(before + 1, timeout=TIMEOUT)


def test_iframe_embed_answers_with_source(page, host_site):
    page.goto(f"{host_site}/index.html")
    chat = page.frame_locator("#qabot-inline")
    expect(chat.locator(TEXTBOX)).to_be_visible(timeout=TIMEOUT)
    ask(chat, "What is NATO?")
    reply = chat.locator(BOT).last
    expect(reply.locator("mark")).to_have_text(
        "NATO stands for the North Atlantic Treaty Organization."
    )
    expect(reply.locator(".qabot-title")).to_have_text("nato-ukraine-2023-11-29")
    expect(reply.locator(".qabot-date")).to_have_text("2023-11-29")
    expect(reply.locator("a[href='https://www.nato.int/']")).to_have_text("NATO")
    expect(reply.locator(".qabot-confidence")).to_have_text("confidence 1.00")
    expect(reply.locator("details.qabot-alternatives")).not_to_have_attribute("open", "")
    page.locator("#qabot-inline").scroll_into_view_if_needed()
    shot(page, "iframe-answer")


def test_widget_launcher_opens_the_chat_in_a_panel(page, host_site):
    page.goto(f"{host_site}/index.html")
    panel = page.locator("[data-qabot=panel]")
    expect(panel).to_be_hidden()
    page.locator("[data-qabot=launcher]").click()
    expect(panel).to_be_visible()
    chat = page.frame_locator("iframe[data-qabot=frame]")
    expect(chat.locator(TEXTBOX)).to_be_visible(timeout=TIMEOUT)
    ask(chat, "How does NATO support Ukraine?")
    reply = chat.locator(BOT).last
    expect(reply).to_contain_text("NATO supports Ukraine by providing political")
    expect(reply.locator(".qabot-title")).to_have_text("nato-ukraine-2023-11-29")
    ask(chat, "and cyber defence?")
    expect(chat.locator(BOT).last).to_contain_text("Understood as: How does NATO support Ukraine?")
    expect(chat.locator(BOT).last.locator("mark")).to_contain_text("cyber defense")
    shot(page, "widget-answer")


def test_declined_question_offers_suggestions_that_ask(page, server):
    page.goto(f"{server}/")
    expect(page).to_have_url(f"{server}/chat/")
    ask(page, "Who won the 1998 World Cup?")
    expect(page.locator(BOT).last).to_contain_text("I don't know")
    suggestion = page.locator("button.option", has_text="What is interoperability?")
    expect(suggestion).to_be_visible()
    shot(page, "decline-suggestions")
    suggestion.click()
    expect(page.locator(BOT)).to_have_count(2, timeout=TIMEOUT)
    expect(page.locator(BOT).last.locator("mark")).to_have_text(
        "Interoperability refers to the ability of different systems, units, or organizations "
        "to work seamlessly together."
    )
    # The starter examples stay reachable during the conversation, and ask when clicked.
    page.locator("#qabot-examples button", has_text="What is NATO?").click()
    expect(page.locator(BOT)).to_have_count(3, timeout=TIMEOUT)
    expect(page.locator(BOT).last).to_contain_text("North Atlantic Treaty Organization")
    shot(page, "suggestion-answered")


def test_hello_gets_a_greeting_whose_starter_questions_ask(page, server):
    page.goto(f"{server}/chat/")
    ask(page, "hello")
    greeting = page.locator(BOT).last
    expect(greeting.locator(".qabot-smalltalk")).to_contain_text("Hello! I answer questions from")
    starter = page.locator("button.option", has_text="What is NATO?")
    expect(starter).to_be_visible()
    shot(page, "smalltalk-greeting")
    starter.click()
    expect(page.locator(BOT)).to_have_count(2, timeout=TIMEOUT)
    expect(page.locator(BOT).last.locator("mark")).to_have_text(
        "NATO stands for the North Atlantic Treaty Organization."
    )


def test_like_and_dislike_are_stored(page, server, feedback):
    page.goto(f"{server}/chat/")
    ask(page, "What is interoperability?")
    row_id = feedback.rows()[-1]["id"]
    page.locator("button[aria-label=Dislike]").last.click()
    expect_vote(page, feedback, row_id, -1)
    page.locator("button[aria-label=Like]").last.click()
    expect_vote(page, feedback, row_id, 1)


def expect_vote(page, feedback, row_id: int, vote: int) -> None:
    for _ in range(100):
        if next(r for r in feedback.rows() if r["id"] == row_id)["vote"] == vote:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"vote {vote} was not stored for row {row_id}")


XSS_QUESTION = (
    'What is NATO? <img src=x onerror="window.__pwned=1;alert(1)">'
    "<script>window.__pwned=2;alert(2)</script>"
)


def test_html_in_a_question_executes_nothing(page, server):
    page.goto(f"{server}/chat/")
    ask(page, XSS_QUESTION)
    user = page.locator("[data-testid=user]").last
    expect(user).to_contain_text('<img src=x onerror="window.__pwned=1;alert(1)">')
    assert user.locator("img, script").count() == 0
    expect(page.locator(BOT).last).to_contain_text("North Atlantic Treaty Organization")
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == [] and page.errors == []
    shot(page, "question-html-escaped")


EVIL_DOCUMENT = """date 2024-01-02
The harbour opens at <b>dawn</b> every day.

Frequently Asked Questions

1. When does the harbour open?

The harbour opens at dawn. <img src=x onerror="window.__pwned='doc';alert('doc')"> <script>window.__pwned='script';alert('script')</script> Boats leave at noon.
"""


def test_html_in_a_document_executes_nothing(browser, tmp_path, embedder):
    from qabot.answering.answerer import Answerer
    from qabot.answering.retrieval import Retriever
    from qabot.index.build import build_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(EVIL_DOCUMENT, encoding="utf-8")
    index = build_index(corpus, tmp_path / "index", embedder)
    answerer = Answerer(Retriever(index, embedder))
    page = browser.new_page()
    dialogs, errors = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    with running(build_app(answerer)) as url:
        page.goto(f"{url}/chat/")
        ask(page, "When does the harbour open?")
        reply = page.locator(BOT).last
        expect(reply).to_contain_text('<img src=x onerror="window.__pwned=')
        expect(reply).to_contain_text("<script>window.__pwned='script'")
        assert reply.locator("img, script, b").count() == 0
        assert page.evaluate("window.__pwned") is None
        assert dialogs == [] and errors == []
        shot(page, "document-html-escaped")
    page.close()
