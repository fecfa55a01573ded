"""Hostile input over real HTTP (issue 9's table): each finding, reproduced against the server.

Runs the real app (real model, seed corpus) under uvicorn with `qabot serve`'s settings.
"""

import json
import socket
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from qabot.answering.questions import clean_question
from qabot.errors import QuestionError
from qabot.web.server import build_app, trusted_hosts_for

from serving import completed_event, running

SURROGATE_BODY = b'{"question": "What is \\ud800 NATO?"}'
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy")


@pytest.fixture(scope="module")
def url(seed_server):
    return seed_server


def post_json(url: str, path: str, content: bytes, **kwargs) -> httpx.Response:
    headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
    return httpx.post(f"{url}{path}", content=content, headers=headers, timeout=60, **kwargs)


# 1. Bad input never fails a neighbour.


def test_clean_question_refuses_a_lone_surrogate():
    with pytest.raises(QuestionError, match="invalid characters"):
        clean_question("What is \ud800 NATO?")
    assert clean_question("NATO 😀?") == ("NATO 😀?", False)  # a real pair is a character


def test_a_lone_surrogate_is_a_clear_422_and_fails_no_neighbour(url):
    good = json.dumps({"question": "What is NATO?"}).encode()
    bodies = [SURROGATE_BODY] + [good] * 8
    with ThreadPoolExecutor(len(bodies)) as pool:
        responses = list(pool.map(lambda body: post_json(url, "/api/ask", body), bodies))
    bad, *others = responses
    assert bad.status_code == 422
    assert bad.json() == {
        "detail": "The question contains invalid characters (lone UTF-16 surrogates): "
        "send it as text."
    }
    assert [r.status_code for r in others] == [200] * 8
    assert all(r.json()["found"] for r in others)


def test_a_lone_surrogate_in_the_chat_is_a_fixed_message(url):
    # Raw JSON: gradio_client cannot even encode such a string.
    body = (
        b'{"data": ["What is \\ud800 NATO?", [], null], "fn_index": 0, '
        b'"session_hash": "surrogate", "trigger_id": 1}'
    )
    assert post_json(url, "/chat/gradio_api/queue/join", body).status_code == 200
    completed = completed_event(url, "surrogate")
    assert completed["success"] is False
    assert completed["output"]["error"] == (
        "The question contains invalid characters (lone UTF-16 surrogates): send it as text."
    )


# 2. Separate permissions, safe defaults; headers on every response.


def test_trusted_hosts_for_a_bind_address():
    loopback = ["localhost", "127.0.0.1", "[::1]"]
    assert trusted_hosts_for("127.0.0.1") == loopback
    assert trusted_hosts_for("localhost", ["qa.example.org"]) == [*loopback, "qa.example.org"]
    assert trusted_hosts_for("::1") == loopback
    assert trusted_hosts_for("0.0.0.0") is None
    assert trusted_hosts_for("0.0.0.0", ["qa.example.org"]) == [*loopback, "qa.example.org"]


def test_a_loopback_server_refuses_other_host_names(seed_answerer):
    app = build_app(seed_answerer, trusted_hosts=trusted_hosts_for("127.0.0.1", ["qa.example"]))
    body = json.dumps({"question": "What is NATO?"}).encode()
    with running(app) as base:
        port = base.rsplit(":", 1)[1]
        rebound = post_json(base, "/api/ask", body, headers={"host": "rebind.attacker.example"})
        assert rebound.status_code == 400
        assert all(name in rebound.headers for name in SECURITY_HEADERS)
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "qa.example"):
            assert post_json(base, "/api/ask", body, headers={"host": host}).status_code == 200


def test_security_headers_are_on_every_response(url):
    too_big = json.dumps({"question": "x" * (65 * 1024)}).encode()
    responses = [
        httpx.get(f"{url}/chat/"),
        httpx.get(f"{url}/healthz"),
        httpx.get(f"{url}/no/such/page"),
        post_json(url, "/api/ask", too_big),
        post_json(url, "/api/ask", b"{"),
        httpx.post(f"{url}/chat/gradio_api/upload", files={"files": ("x.txt", b"x")}),
    ]
    assert [r.status_code for r in responses] == [200, 200, 404, 413, 400, 404]
    for response in responses:
        assert response.headers["content-security-policy"] == "frame-ancestors *"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"


# 3. Gradio locked down.


def test_gradio_uploads_are_refused_and_store_nothing(url):
    name = f"planted-{uuid.uuid4().hex}.txt"  # unique: earlier runs may have left files
    response = httpx.post(f"{url}/chat/gradio_api/upload", files={"files": (name, b"hello")})
    assert response.status_code == 404
    assert name not in response.text and "/tmp" not in response.text
    assert list(Path(tempfile.gettempdir(), "gradio").rglob(name)) == []
    progress = httpx.get(f"{url}/chat/gradio_api/upload_progress", params={"upload_id": "x"})
    assert progress.status_code == 404


def test_an_unknown_gradio_function_is_a_4xx(url):
    for fn_index in (9, "9", -1, 10**9):
        body = {"data": ["x"], "fn_index": fn_index, "session_hash": "abc"}
        response = httpx.post(f"{url}/chat/gradio_api/queue/join", json=body)
        assert response.status_code == 422, fn_index
        assert response.json() == {"detail": "The chat has no event with that fn_index."}


def test_gradio_direct_routes_are_closed_and_errors_show_no_internals(url):
    assert httpx.get(f"{url}/chat/config").json()["show_error"] is False
    direct = httpx.post(f"{url}/chat/gradio_api/run/chat", json={"data": ["What is NATO?"]})
    assert direct.status_code == 404
    # Too few inputs: Gradio's own error text (naming its classes) must not reach the page.
    body = {"data": ["x"], "fn_index": 0, "session_hash": "hardening", "trigger_id": 1}
    joined = httpx.post(f"{url}/chat/gradio_api/queue/join", json=body)
    assert joined.status_code == 200
    completed = completed_event(url, "hardening")
    assert completed["success"] is False and completed["output"]["error"] is None


# 4. Timeouts.


def raw_request(port: int, start: bytes, trickle: bytes, every: float, wait: float) -> bytes:
    """Send ``start``, then ``trickle`` one byte at a time; return what the server sent back.

    Stops trickling as soon as the server answers or closes; gives up after ``wait`` seconds.
    """
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=every) as sock:
        sock.sendall(start)
        deadline = time.monotonic() + wait
        for byte in trickle:
            assert time.monotonic() < deadline, f"no answer within {wait} s: {received!r}"
            try:
                sock.sendall(bytes([byte]))
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            received += chunk
            if not chunk:
                return received
        sock.settimeout(max(deadline - time.monotonic(), 0.1))
        while chunk := _recv(sock):
            received += chunk
    return received


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except (TimeoutError, ConnectionResetError):
        return b""


@pytest.fixture(scope="module")
def quick_server(seed_answerer):
    """The app with deadlines of 1 s for headers and bodies, and 1 s keep-alive."""
    app = build_app(seed_answerer, body_timeout=1.0)
    with running(app, header_timeout=1.0, keep_alive_timeout=1.0) as base:
        yield int(base.rsplit(":", 1)[1])


def test_a_body_sent_too_slowly_gets_408_and_the_connection_closed(quick_server):
    head = (
        b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"content-length: 200\r\n\r\n"
    )
    started = time.monotonic()
    reply = raw_request(quick_server, head, b'{"question": "' + b"a" * 150, every=0.3, wait=15)
    assert reply.startswith(b"HTTP/1.1 408 "), reply
    assert b"The request body was not sent in time." in reply
    assert b"content-security-policy: frame-ancestors *" in reply.lower()
    assert time.monotonic() - started < 15  # the connection was closed: recv saw its end


@pytest.mark.parametrize("method", ["GET", "OPTIONS", "DELETE"])
def test_a_body_sent_too_slowly_is_cut_whatever_the_method(quick_server, method):
    # The probe: Content-Length 1000, a byte every 2 s, was still open after 130 s.
    head = f"{method} /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-length: 1000\r\n\r\n"
    reply = raw_request(quick_server, head.encode(), b"a" * 100, every=0.3, wait=15)
    assert reply.startswith(b"HTTP/1.1 408 "), reply
    assert b"The request body was not sent in time." in reply


def test_headers_sent_too_slowly_get_408_and_the_connection_closed(quick_server):
    trickle = b"Host: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    reply = raw_request(quick_server, b"GET /healthz HTTP/1.1\r\n", trickle, every=0.3, wait=15)
    assert reply.startswith(b"HTTP/1.1 408 "), reply


def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(quick_server):
    with socket.create_connection(("127.0.0.1", quick_server), timeout=4) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        while chunk := sock.recv(65536):  # the server closes it: recv returns b""
            first += chunk


def test_a_slow_client_does_not_hold_up_others(quick_server):
    head = b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-length: 100\r\n\r\n{"
    slow = threading.Thread(
        target=raw_request, args=(quick_server, head, b"a" * 50, 0.3, 15), daemon=True
    )
    slow.start()
    response = httpx.get(f"http://127.0.0.1:{quick_server}/healthz", timeout=10)
    assert response.status_code == 200
    slow.join(20)
    assert not slow.is_alive()


# 6. Docs offline.


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_from_this_server(url, page):
    response = httpx.get(f"{url}{page}")
    assert response.status_code == 200
    text = response.text
    assert "cdn" not in text.lower() and "fonts.googleapis" not in text
    urls = [u for u in _attribute_urls(text) if "://" in u]
    assert urls == [], urls
    scripts = [u for u in _attribute_urls(text) if u.endswith(".js")]
    assert scripts, "the page loads its script from this server"
    for script in scripts:
        assert httpx.get(f"{url}{script}").status_code == 200


def _attribute_urls(html: str) -> list[str]:
    import re

    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
