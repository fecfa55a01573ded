"""Hostile traffic, round two (issue 20): the probe's requests against a real server.

Each error is one short log line, no route that does not exist answers 500, and the chat's
work is bounded: a long conversation, a flood from one client, a full queue. The server runs
under uvicorn with `qabot serve`'s settings, around a stub answerer that can hold questions
(the real model is not needed to fill a queue).
"""

from __future__ import annotations

import json
import threading
import uuid

import httpx
import pytest
from stubs import StubAnswerer, served_manifest

from qabot.web.chatlimits import BUSY, ChatLimits
from qabot.web.server import build_app

from serving import completed_event, running

pytestmark = pytest.mark.slow  # serves over a port

LOG_BYTES_PER_BAD_REQUEST = 1024
ROUTE = "/chat/gradio_api"


class HoldingAnswerer(StubAnswerer):
    """A stub whose questions starting with "hold" wait until `release` is set."""

    def __init__(self) -> None:
        super().__init__({"What is NATO?": (True, "An alliance.")}, faq=("What is NATO?",))
        self.manifest = served_manifest()
        self.release = threading.Event()

    def answer_batch(self, questions, alternatives=None):
        if any(q.startswith("hold") for q in questions):
            self.release.wait(30)
        return super().answer_batch(questions, alternatives)


@pytest.fixture(scope="module")
def answerer() -> HoldingAnswerer:
    return HoldingAnswerer()


@pytest.fixture(scope="module")
def url(answerer):
    app = build_app(answerer, chat_limits=ChatLimits(max_queue=4, max_per_client=2))
    with running(app) as base:
        yield base


@pytest.fixture(scope="module")
def chat_fn(url) -> int:
    config = httpx.get(f"{url}/chat/config").json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == "chat")


def join(url: str, body: dict, client: str = "10.0.0.1") -> httpx.Response:
    headers = {"content-type": "application/json", "x-forwarded-for": client}
    return httpx.post(f"{url}{ROUTE}/queue/join", content=json.dumps(body), headers=headers)


def event(fn: int, question: str, history: list | None = None) -> dict:
    session = uuid.uuid4().hex
    return {"data": [question, history or [], None], "fn_index": fn, "session_hash": session}


def logged(capfd, caplog) -> str:
    """What the server wrote since the last call: its stderr and its log records."""
    text = capfd.readouterr().err + caplog.text
    caplog.clear()
    return text


def test_routes_that_do_not_exist_are_404_with_one_line_of_log_at_most(url, capfd, caplog):
    logged(capfd, caplog)
    responses = [
        httpx.post(f"{url}{ROUTE}/call/nope", json={"data": []}),
        httpx.post(f"{url}{ROUTE}/call/v2/chat", json={"data": []}),
        httpx.get(f"{url}{ROUTE}/call/chat/no-such-event"),
        httpx.get(f"{url}{ROUTE}/queue/data", params={"session_hash": "nope"}),
    ]
    assert [r.status_code for r in responses] == [404] * 4
    text = logged(capfd, caplog)
    assert "Traceback" not in text
    assert len(text.encode()) <= LOG_BYTES_PER_BAD_REQUEST * len(responses)


def test_a_bad_chat_event_is_one_bounded_log_line(url, chat_fn, capfd, caplog):
    # Messages Gradio's Chatbot cannot read: its validation error names each of them.
    history = [{"role": "user", "content": {"bad": n}} for n in range(150)]
    body = event(chat_fn, "What is NATO?", history)
    logged(capfd, caplog)
    assert join(url, body).status_code == 200
    assert completed_event(url, body["session_hash"])["success"] is False
    text = logged(capfd, caplog)
    assert "Traceback" not in text
    assert 0 < len(text.encode()) <= LOG_BYTES_PER_BAD_REQUEST
    assert "chat event failed" in text


def test_a_long_conversation_is_refused_before_gradio_reads_it(url, chat_fn, capfd, caplog):
    logged(capfd, caplog)
    history = [{"role": "user", "content": "What is NATO?"}] * 201  # 7 KB, 201 messages
    too_long = join(url, event(chat_fn, "What is NATO?", history))
    assert too_long.status_code == 422
    assert too_long.json()["detail"].startswith("The conversation is over 200 messages")
    # The probe's 3.9 MB request: refused by its size, before anything parses it.
    history = [{"role": "user", "content": "What is NATO? " * 5}] * 40_000
    too_big = join(url, event(chat_fn, "What is NATO?", history))
    assert too_big.status_code == 413
    text = logged(capfd, caplog)
    assert len(text.encode()) <= 2 * LOG_BYTES_PER_BAD_REQUEST
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_one_client_cannot_take_the_queue(url, chat_fn, answerer):
    held = [event(chat_fn, f"hold {n}") for n in range(2)]
    try:
        assert [join(url, body).status_code for body in held] == [200, 200]
        flood = [join(url, event(chat_fn, "hold more")) for _ in range(20)]
        assert {r.status_code for r in flood} == {503}
        assert flood[0].json() == {"detail": BUSY}
        assert flood[0].headers["retry-after"] == "2"
        # Another client is still let in, until the queue itself is full.
        other = event(chat_fn, "What is NATO?")
        assert join(url, other, client="10.0.0.2").status_code == 200
        third = join(url, event(chat_fn, "What is NATO?"), client="10.0.0.3")
        assert third.status_code == 200
        fourth = join(url, event(chat_fn, "What is NATO?"), client="10.0.0.4")
        assert fourth.status_code == 503  # 2 + 1 + 1 in hand: the queue of 4 is full
    finally:
        answerer.release.set()
    completed = completed_event(url, other["session_hash"])
    assert completed["success"] is True
    assert completed["output"]["data"][3]["answer"] == "An alliance."
    assert all(completed_event(url, body["session_hash"])["success"] for body in held)
    # Once answered, the client's questions no longer count.
    assert join(url, event(chat_fn, "What is NATO?")).status_code == 200
