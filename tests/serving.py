"""Test helpers: run a real uvicorn server (or a plain static server) on a free loopback port."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import uvicorn

from qabot.web.timeouts import server_config


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running(app, timeout: float = 30.0, **settings) -> Iterator[str]:
    """Serve an ASGI app in a thread with `qabot serve`'s uvicorn settings (``settings``
    override them: ``header_timeout=``, ``keep_alive_timeout=``); yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        server_config(
            app,
            host="127.0.0.1",
            port=port,
            lifespan="on",
            timeout_graceful_shutdown=1,
            **settings,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start on {url}")
        time.sleep(0.05)
    assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def completed_event(url: str, session_hash: str) -> dict:
    """The ``process_completed`` message of a chat session's event stream."""
    stream_url = f"{url}/chat/gradio_api/queue/data"
    with httpx.stream("GET", stream_url, params={"session_hash": session_hash}, timeout=30) as sse:
        for line in sse.iter_lines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                if event.get("msg") == "process_completed":
                    return event
    raise AssertionError("the queue never completed the event")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def static_site(directory: Path) -> Iterator[str]:
    """Serve a folder over HTTP on another free port (a "host site"); yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def qabot_serve(*args: str, timeout: float = 240.0) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run ``qabot serve ARGS`` on a free port until it is healthy; yields its URL and process.

    Stops it at the end; its output (stdout and stderr) is then in ``process.output``.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "qabot", "serve", *args, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "QABOT_MODEL": ""},
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "qabot serve did not become healthy"
            time.sleep(0.25)
        yield url, process
    finally:
        process.terminate()
        process.output = process.communicate(timeout=60)[0]
