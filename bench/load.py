"""Load targets of issue 9: the chat's Gradio queue and the API under many clients, and a soak.

Prints figures; asserts nothing. Starts ``qabot serve`` (on loopback, index built in a temp
folder) and drives it from this process, a second one. Run from the repository root:

    .venv/bin/python -m bench.load                       # chat 32 x 60 s, API 64 x 60 s
    .venv/bin/python -m bench.load --duration 10         # quicker
    .venv/bin/python -m bench.load --soak                # also 10 min at 8 clients: memory
    .venv/bin/python -m bench.load --soak-only           # only the 10-minute soak

1. Chat: ``--chat-clients`` sessions (default 32), each asking through the Gradio queue
   (``/chat/gradio_api/queue/join`` then the event stream, as the page does) in a loop;
   errors, requests, p50/p99. Target: 0 errors.
2. API: ``--api-clients`` clients (default 64) asking ``POST /api/ask`` in a loop. Target: 0 errors.
3. Soak (``--soak``): ``--soak-clients`` (default 8: half chat, half API) for ``--soak-minutes``
   (default 10); the server's resident memory after the first minute and at the end.
   Target: it grows less than 10 %.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

from bench.data import seed_questions
from bench.serve_bench import Asker, api_asker, drive, served_seed


def chat_fn_index(url: str, wait: float = 120.0) -> int:
    """The ``fn_index`` of the chat's ``/chat`` event, from the page's config.

    The chat is mounted after the API comes up (503 until then), so this waits for it.
    """
    deadline = time.monotonic() + wait
    while (response := httpx.get(f"{url}/chat/config", timeout=30)).status_code == 503:
        if time.monotonic() > deadline:
            raise SystemExit(f"the chat was not mounted within {wait:g} s")
        time.sleep(0.25)
    config = response.raise_for_status().json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == "chat")


def chat_asker(url: str) -> Asker:
    """Asks through the Gradio queue, as the page does: join, then read the event stream."""
    fn_index = chat_fn_index(url)

    def ask(client: httpx.Client, question: str) -> bool:
        session = uuid.uuid4().hex
        body = {"data": [question, [], None], "fn_index": fn_index, "session_hash": session}
        joined = client.post(f"{url}/chat/gradio_api/queue/join", json={**body, "trigger_id": 1})
        if joined.status_code != 200:
            return False
        event_id = joined.json()["event_id"]
        stream = f"{url}/chat/gradio_api/queue/data"
        with client.stream("GET", stream, params={"session_hash": session}) as events:
            for line in events.iter_lines():
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                if event.get("msg") == "process_completed" and event.get("event_id") == event_id:
                    record = (event.get("output") or {}).get("data", [None] * 4)[3]
                    return bool(event.get("success")) and isinstance(record, dict)
        return False

    return ask


def visitor(number: int) -> dict[str, str]:
    """Client ``number``'s address, as a proxy on this host would pass it to ``qabot serve``.

    Each chat user is a separate visitor: the chat bounds the questions in flight per client
    address (`qabot.web.chatlimits`), and this process is one address for all of them.
    """
    return {"x-forwarded-for": f"10.0.{number // 250}.{number % 250 + 1}"}


def resident_kib(pid: int) -> int:
    """The process's resident memory (VmRSS), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def soak(url: str, pid: int, questions: list[str], clients: int, minutes: float) -> dict:
    """Half the clients chat, half use the API, for ``minutes``; memory after 1 min and at end."""
    seconds = minutes * 60
    runs = [
        threading.Thread(
            target=drive,
            args=(chat_asker(url), questions, clients // 2, seconds),
            kwargs={"headers": visitor},
        ),
        threading.Thread(
            target=drive, args=(api_asker(url), questions, clients - clients // 2, seconds)
        ),
    ]
    for thread in runs:
        thread.start()
    time.sleep(min(60.0, seconds / 4))  # past the warm-up: caches and pools filled
    start = resident_kib(pid)
    for thread in runs:
        thread.join()
    end = resident_kib(pid)
    return {"rss_start_mib": start / 1024, "rss_end_mib": end / 1024, "growth": end / start - 1}


def print_soak(args: argparse.Namespace, url: str, pid: int, questions: list[str]) -> None:
    s = soak(url, pid, questions, args.soak_clients, args.soak_minutes)
    verdict = "meets" if s["growth"] < 0.10 else "misses"
    print(
        f"soak {args.soak_clients} clients x {args.soak_minutes:g} min: resident memory "
        f"{s['rss_start_mib']:.0f} -> {s['rss_end_mib']:.0f} MiB "
        f"({100 * s['growth']:+.1f} %; {verdict} the < 10 % target)"
    )


def row(name: str, r: dict) -> str:
    return (
        f"{name:<5} {r['clients']:>7} {r['requests']:>8} {r['errors']:>6} "
        f"{r['throughput']:>7.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}"
    )


def run(args: argparse.Namespace, url: str, pid: int) -> None:
    questions = seed_questions()
    if args.soak_only:
        print_soak(args, url, pid, questions)
        return
    print(
        f"{'path':<5} {'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}"
    )
    chat = drive(chat_asker(url), questions, args.chat_clients, args.duration, headers=visitor)
    print(row("chat", chat), flush=True)
    api = drive(api_asker(url), questions, args.api_clients, args.duration)
    print(row("api", api), flush=True)
    print(f"server resident memory after both: {resident_kib(pid) / 1024:.0f} MiB")
    if args.soak:
        print_soak(args, url, pid, questions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per load run")
    parser.add_argument("--chat-clients", type=int, default=32)
    parser.add_argument("--api-clients", type=int, default=64)
    parser.add_argument("--soak", action="store_true", help="also run the memory soak")
    parser.add_argument("--soak-only", action="store_true", help="run only the memory soak")
    parser.add_argument("--soak-clients", type=int, default=8)
    parser.add_argument("--soak-minutes", type=float, default=10.0)
    args = parser.parse_args(argv)
    with served_seed("qabot-load-") as (url, process):
        run(args, url, process.pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
