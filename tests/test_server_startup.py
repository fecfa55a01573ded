"""The server's start-up and its one answering queue: the API first, the chat when Gradio is
ready (503 with Retry-After until then), and chat answers through the API's `AnswerBatcher`."""

import threading
import time

import httpx
import pytest
from starlette.testclient import TestClient
from stubs import StubAnswerer, served_manifest

from qabot.web import server
from qabot.web.server import build_app

from serving import running

TABLE = {"What is NATO?": (True, "An alliance.")}


class ThreadRecordingAnswerer(StubAnswerer):
    """A stub that notes the thread each batch is answered on."""

    def __init__(self) -> None:
        super().__init__(TABLE, faq=("What is NATO?",))
        self.manifest = served_manifest("data-1")
        self.threads: list[str] = []

    def answer_batch(self, questions, alternatives=None):
        self.threads.append(threading.current_thread().name)
        return super().answer_batch(questions, alternatives)


def _wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.1)


def test_the_api_answers_before_the_chat_is_mounted_and_the_chat_says_503(monkeypatch):
    release = threading.Event()
    mounted = []
    real_mount = server._mount_chat

    def slow_mount(*args, **kwargs):
        assert release.wait(120), "the test never released the mount"
        blocks = real_mount(*args, **kwargs)
        mounted.append(threading.current_thread().name)
        return blocks

    monkeypatch.setattr(server, "_mount_chat", slow_mount)
    app = build_app(ThreadRecordingAnswerer(), defer_chat=True)
    with TestClient(app) as client:
        assert client.get("/healthz").json()["build"] == "data-1"
        assert client.post("/api/ask", json={"question": "What is NATO?"}).json()["answer"] == (
            "An alliance."
        )
        for path in ("/chat/", "/chat/gradio_api/info", "/chat"):
            waiting = client.get(path, follow_redirects=False)
            assert waiting.status_code == 503, path
            assert waiting.headers["retry-after"] == "2"
            assert "frame-ancestors" in waiting.headers["content-security-policy"]
        assert "reloads in a moment" in client.get("/chat/").text
        # An event posted before the chat is up is told to come back, not refused as unknown.
        join = client.post("/chat/gradio_api/queue/join", json={"fn_index": 0, "data": []})
        assert join.status_code == 503

        release.set()
        _wait_for(lambda: client.get("/chat/").status_code == 200)
        assert mounted and mounted[0] != threading.current_thread().name  # built off the loop
        assert "gradio" in client.get("/chat/").text.lower()
        unknown = client.post("/chat/gradio_api/queue/join", json={"fn_index": 99, "data": []})
        assert unknown.status_code == 422  # the guard now knows the chat's events


def test_a_chat_that_cannot_be_mounted_leaves_the_api_serving(monkeypatch):
    def broken_mount(*args, **kwargs):
        raise RuntimeError("gradio is broken")

    monkeypatch.setattr(server, "_mount_chat", broken_mount)
    with TestClient(build_app(ThreadRecordingAnswerer(), defer_chat=True)) as client:
        time.sleep(0.5)  # lets the failed mount finish; the chat stays at 503 either way
        assert client.get("/chat/").status_code == 503
        assert client.post("/api/ask", json={"question": "What is NATO?"}).status_code == 200


@pytest.mark.slow
def test_chat_answers_go_through_the_apis_batcher():
    from gradio_client import Client

    answerer = ThreadRecordingAnswerer()
    app = build_app(answerer)
    with running(app) as url:
        client = Client(f"{url}/chat/", verbose=False, download_files=False)
        _, _, record = client.predict("What is NATO?", [], api_name="/chat")
        assert record["answer"] == "An alliance."
        api = httpx.post(f"{url}/api/ask", json={"question": "What is NATO?"}, timeout=30)
        assert api.json()["answer"] == "An alliance."
        metrics = httpx.get(f"{url}/metrics").text
    # Both answers were computed on the batcher's one worker thread, none on Gradio's threads.
    assert answerer.threads == ["qabot-batcher", "qabot-batcher"]
    assert answerer.asked == [["What is NATO?"], ["What is NATO?"]]
    assert 'qabot_answers_total{channel="chat",outcome="answered"} 1.0' in metrics
    assert 'qabot_answers_total{channel="api",outcome="answered"} 1.0' in metrics


def test_the_chat_keeps_a_bounded_number_of_conversations_in_memory():
    from qabot.web.ui import CHAT_SESSIONS_KEPT

    app = build_app(ThreadRecordingAnswerer())
    gradio_app = next(r.app for r in app.routes if getattr(r, "path", "") == "/chat")
    holder = gradio_app.state_holder
    assert holder.capacity == CHAT_SESSIONS_KEPT == 1000
    holder.capacity = 3  # the same eviction, on a scale a test can fill
    for n in range(5):
        holder[f"visitor-{n}"]
    assert list(holder.session_data) == ["visitor-2", "visitor-3", "visitor-4"]
