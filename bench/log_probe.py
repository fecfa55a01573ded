"""The probe's bad requests (issue 20) against ``qabot serve``: each one's status and log bytes.

Prints figures; asserts nothing. Starts ``qabot serve`` on an index folder (its output to a
file) and sends each request of the probe in turn, half a second apart; the log bytes are
those the server wrote meanwhile (an event's line can land in the next request's count).
Run from the repository root, on an index built with ``qabot index corpus --index-dir DIR``:

    .venv/bin/python -m bench.log_probe DIR

Target: no 5xx, and at most 1 KB of log per bad request.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.data import SEED_CORPUS
from bench.hostile_traffic import long_questions
from bench.serve_bench import free_port
from qabot.offline import OFFLINE_ENV

API = "/chat/gradio_api"


def probes(url: str, fn: int) -> dict[str, Callable[[], httpx.Response]]:
    """The probe's requests, by name."""

    def join(history: list) -> httpx.Response:
        session = uuid.uuid4().hex
        body = {"data": ["What is NATO?", history, None], "fn_index": fn, "session_hash": session}
        headers = {"content-type": "application/json"}
        joined = httpx.post(f"{url}{API}/queue/join", content=json.dumps(body), headers=headers)
        if joined.status_code == 200:  # read its result, as the page would
            stream = f"{url}{API}/queue/data"
            with httpx.stream("GET", stream, params={"session_hash": session}, timeout=60) as sse:
                next(line for line in sse.iter_lines() if "process_completed" in line)
        return joined

    malformed = [{"role": "user", "content": {"bad": n}} for n in range(150)]
    return {
        "POST call/nope": lambda: httpx.post(f"{url}{API}/call/nope", json={"data": []}),
        "POST call/v2/chat": lambda: httpx.post(f"{url}{API}/call/v2/chat", json={"data": []}),
        "POST call/chat, no inputs": lambda: httpx.post(f"{url}{API}/call/chat", json={"data": []}),
        "GET queue/data?session_hash=nope": lambda: httpx.get(
            f"{url}{API}/queue/data", params={"session_hash": "nope"}
        ),
        "join, 150 malformed messages": lambda: join(malformed),
        "join, 201 messages": lambda: join([{"role": "user", "content": "What is NATO?"}] * 201),
        "join, 3.9 MB history": lambda: join([{"role": "user", "content": "NATO? " * 12}] * 37_000),
        "POST /api/ask, 2,000 characters": lambda: httpx.post(
            f"{url}/api/ask", json={"question": long_questions(2000, 1)[0]}, timeout=60
        ),
    }


def chat_fn(url: str, process: subprocess.Popen) -> int:
    """The chat event's ``fn_index``, once the chat is mounted."""
    while True:
        assert process.poll() is None, "qabot serve exited"
        try:
            response = httpx.get(f"{url}/chat/config")
            if response.status_code == 200:
                deps = response.json()["dependencies"]
                return next(d["id"] for d in deps if d.get("api_name") == "chat")
        except httpx.TransportError:
            pass
        time.sleep(0.3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", type=Path)
    args = parser.parse_args(argv)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "qabot", "serve", "--corpus", str(SEED_CORPUS)]
    command += ["--index-dir", str(args.index_dir), "--port", str(port)]
    with tempfile.NamedTemporaryFile(prefix="qabot-log-") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **OFFLINE_ENV}
        )
        try:
            requests = probes(url, chat_fn(url, process))
            print(f"{'request':<34} {'status':>6} {'log bytes':>9}")
            for name, send in requests.items():
                time.sleep(0.5)
                before = Path(log.name).stat().st_size
                try:
                    status: int | str = send().status_code
                except httpx.HTTPError:
                    status = "cut"  # the server broke the response off
                time.sleep(0.5)
                print(f"{name:<34} {status:>6} {Path(log.name).stat().st_size - before:>9}")
        finally:
            process.terminate()
            process.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
