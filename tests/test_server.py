"""The web application over real HTTP: a uvicorn server on a loopback port, the real model."""

import json

import httpx
import pytest

from qabot.web.server import build_app, csp_frame_ancestors

from conftest import SEED_CORPUS
from serving import qabot_serve, running


@pytest.fixture(scope="module")
def url(seed_server):
    return seed_server


def ask(url: str, body: object, **kwargs) -> httpx.Response:
    return httpx.post(f"{url}/api/ask", json=body, timeout=30, **kwargs)


def test_health(url, seed_answerer):
    response = httpx.get(f"{url}/healthz")
    assert response.status_code == 200
    assert response.json() | {"built_at": None} == {
        "status": "ok",
        "build": seed_answerer.manifest.data_dir,
        "model": "all-MiniLM-L6-v2",
        "documents": 1,
        "passages": 4,
        "faq_entries": 3,
        "built_at": None,
    }


def test_answer_is_the_ask_json_record(url, seed_answerer):
    response = ask(url, {"question": "How does NATO support Ukraine?", "alternatives": 2})
    assert response.status_code == 200
    record = response.json()
    assert record == seed_answerer.answer("How does NATO support Ukraine?", 2).to_dict()
    assert record["found"] is True
    assert record["source"]["passage_id"] == "nato-ukraine-2023-11-29.txt#faq-2"
    assert record["source"]["date"] == "2023-11-29"
    assert len(record["alternatives"]) == 2


def test_alternatives_sets_how_many_are_returned(url):
    record = ask(url, {"question": "What is NATO?", "alternatives": 0}).json()
    assert record["found"] and record["alternatives"] == []


def test_decline(url):
    record = ask(url, {"question": "Who won the 1998 World Cup?"}).json()
    assert record["found"] is False and record["source"] is None
    assert record["answer"].startswith("I don't know")
    assert "What is NATO?" in record["suggestions"]


def test_questions_and_answers_are_logged(url, feedback):
    ask(url, {"question": "Is this question logged by the API?"})
    row = feedback.rows()[-1]
    assert row["question"] == "Is this question logged by the API?" and row["channel"] == "api"


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b'{"question": ', 400, "not valid JSON"),
        (b"not json at all", 400, "not valid JSON"),
        (b'{"question": "   "}', 422, "The question is empty"),
        (b'{"alternatives": 2}', 422, "question: Field required"),
        (b'{"question": 42}', 422, "question: Input should be a valid string"),
        (
            b'{"question": "What is NATO?", "alternatives": -1}',
            422,
            "alternatives: Input should be greater",
        ),
        (
            b'{"question": "What is NATO?", "alternatives": 500}',
            422,
            "alternatives: Input should be less",
        ),
        (b'["What is NATO?"]', 422, "Invalid request"),
    ],
)
def test_bad_inputs_get_a_clear_4xx(url, content, status, message):
    response = httpx.post(
        f"{url}/api/ask", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    assert message in response.json()["detail"]


def test_oversized_bodies_are_refused_and_the_server_keeps_serving(url):
    big = json.dumps({"question": "x" * (65 * 1024)}).encode()
    response = httpx.post(
        f"{url}/api/ask", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and "64 KiB" in response.json()["detail"]

    def chunks():  # no Content-Length: the limit must count the streamed bytes
        for _ in range(20):
            yield b"x" * 8192

    response = httpx.post(
        f"{url}/api/ask", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert httpx.get(f"{url}/healthz").status_code == 200
    assert ask(url, {"question": "What is NATO?"}).json()["found"] is True


def test_long_question_under_the_limit_is_trimmed(url):
    record = ask(url, {"question": "What is NATO? " + "very " * 2000}).json()
    assert record["truncated"] is True


def test_root_redirects_to_the_chat(url):
    response = httpx.get(f"{url}/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/chat/"
    assert httpx.get(f"{url}/chat/").status_code == 200
    config = httpx.get(f"{url}/chat/config").json()
    assert config["title"] == "qabot" and config["analytics_enabled"] is False
    assert "Answers quoted from 1 document (nato-ukraine-2023-11-29)" in json.dumps(config)


def test_docs_and_openapi(url):
    assert httpx.get(f"{url}/docs").status_code == 200
    spec = httpx.get(f"{url}/openapi.json").json()
    assert "/api/ask" in spec["paths"] and "/healthz" in spec["paths"]


def test_widget_is_served_locally(url):
    response = httpx.get(f"{url}/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert '"/chat/"' in response.text and "attachShadow" in response.text
    assert "https://" not in response.text.replace("https://www", "")  # no CDN


def test_any_site_may_embed_but_no_site_may_call_the_api_by_default(url):
    response = httpx.get(f"{url}/chat/", headers={"origin": "http://elsewhere.example"})
    assert response.headers["content-security-policy"] == "frame-ancestors *"
    assert "access-control-allow-origin" not in response.headers
    preflight = httpx.options(
        f"{url}/api/ask",
        headers={
            "origin": "https://evil.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    answered = ask(url, {"question": "What is NATO?"}, headers={"origin": "https://evil.example"})
    assert answered.status_code == 200
    assert "access-control-allow-origin" not in answered.headers
    # Gradio's own CORS rules do not apply either: the app's (none) do.
    config = httpx.get(f"{url}/chat/config", headers={"origin": "http://localhost:1"})
    assert "access-control-allow-origin" not in config.headers


def test_csp_frame_ancestors():
    assert csp_frame_ancestors(["*"]) == "frame-ancestors *"
    assert csp_frame_ancestors([]) == "frame-ancestors *"
    assert (
        csp_frame_ancestors(["https://a.example/", "http://b.example:8080"])
        == "frame-ancestors 'self' https://a.example http://b.example:8080"
    )


def test_framing_and_cors_are_separate_permissions(seed_answerer):
    app = build_app(
        seed_answerer,
        frame_ancestors=["http://host.example"],
        allowed_origins=["http://good.example"],
    )
    with running(app) as base:
        page = httpx.get(f"{base}/chat/")
        assert page.headers["content-security-policy"] == (
            "frame-ancestors 'self' http://host.example"
        )
        good = ask(base, {"question": "What is NATO?"}, headers={"origin": "http://good.example"})
        assert good.headers["access-control-allow-origin"] == "http://good.example"
        framer = ask(base, {"question": "What is NATO?"}, headers={"origin": "http://host.example"})
        assert "access-control-allow-origin" not in framer.headers
        bad = ask(base, {"question": "What is NATO?"}, headers={"origin": "http://bad.example"})
        assert "access-control-allow-origin" not in bad.headers


def test_any_origin_may_call_the_api_when_opened(seed_answerer):
    with running(build_app(seed_answerer, allowed_origins=["*"])) as base:
        preflight = httpx.options(
            f"{base}/api/ask",
            headers={"origin": "https://a.example", "access-control-request-method": "POST"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "*"


def test_gradio_client_calls_the_chat_endpoint(url, seed_answerer):
    from gradio_client import Client

    # download_files=False: gradio_client would otherwise take the record's source "path"
    # for a file to download.
    client = Client(f"{url}/chat/", verbose=False, download_files=False)
    assert "/chat" in client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    textbox, history, record = client.predict("What is NATO?", [], api_name="/chat")
    assert textbox == ""
    assert record == seed_answerer.answer("What is NATO?").to_dict()
    assert history[-1]["role"] == "assistant"
    assert "North Atlantic Treaty Organization" in history[-1]["content"][0]["text"]

    # The conversation's context lives in the session: a follow-up is understood.
    _, history, _ = client.predict("How does NATO support Ukraine?", history, api_name="/chat")
    _, history, record = client.predict("and cyber defence?", history, api_name="/chat")
    assert record["found"] is True
    assert record["question"] == "How does NATO support Ukraine? cyber defence"
    assert record["source"]["passage_id"] == "nato-ukraine-2023-11-29.txt#faq-2"
    assert len(history) == 6


@pytest.mark.slow
def test_qabot_serve_builds_a_missing_index_and_serves(tmp_path):
    index_dir = tmp_path / "index"
    with qabot_serve("--corpus", str(SEED_CORPUS), "--index-dir", str(index_dir)) as (
        url,
        process,
    ):
        record = ask(url, {"question": "What is NATO?"}).json()
        assert record["source"]["passage_id"] == "nato-ukraine-2023-11-29.txt#faq-0"
        assert (index_dir / "manifest.json").is_file()
        assert (index_dir / "feedback.sqlite3").is_file()
    output = process.output
    # The build is reported (the wording is the core's): a line about building, naming the folder.
    building = [line for line in output.splitlines() if "build" in line.lower()]
    assert any(str(index_dir) in line for line in building), output
    assert "Any site may embed the chat" in output
    assert "No other site's scripts may call the API" in output
    assert "Host names accepted: localhost, 127.0.0.1, [::1]" in output
    assert f"{url}/chat/" in output


def test_the_answerer_can_be_swapped_between_requests(seed_answerer):
    from starlette.testclient import TestClient
    from stubs import StubAnswerer, served_manifest

    from qabot.web.holder import AnswererHolder

    holder = AnswererHolder(seed_answerer)
    app = build_app(holder)
    assert app.state.answerer is holder
    stub = StubAnswerer({"What is NATO?": (True, "An answer from the new index.")})
    stub.manifest = served_manifest("data-new")
    with TestClient(app) as client:
        before = client.post("/api/ask", json={"question": "What is NATO?"}).json()
        assert "North Atlantic Treaty Organization" in before["answer"]
        assert holder.swap(stub) is seed_answerer
        after = client.post("/api/ask", json={"question": "What is NATO?"}).json()
        assert after["answer"] == "An answer from the new index."
        health = client.get("/healthz").json()
        assert (health["model"], health["build"]) == ("stub", "data-new")
