"""Hostile traffic (issue 20): a chat flood from one client, and long questions beside short ones.

Prints figures; asserts nothing. Starts ``qabot serve`` (on loopback, index built in a temp
folder) and drives it from this process. Run from the repository root:

    .venv/bin/python -m bench.hostile_traffic                  # both parts
    .venv/bin/python -m bench.hostile_traffic --part flood
    .venv/bin/python -m bench.hostile_traffic --part fairness --duration 20

1. Flood: one client address sends ``--joins`` (default 1,000) ``queue/join`` requests of
   ``--flood-chars`` (2,000) characters within about 10 s, from 20 threads, never reading the
   results, while a normal visitor (another
   address) asks a question through the chat every second. Figures: the flood's statuses, the
   visitor's slowest answer (target ≤ 5 s), and the server's resident memory before, at the
   end of the flood, and 10 s after (target: back within 10 % of its start).
2. Fairness: a short question asked through ``/api/ask`` one at a time, alone, then while 4
   other clients each send 2,000-character questions in a loop. Target: its p50 with the long
   questions within 2x of its p50 alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid

import httpx

from bench.data import seed_questions
from bench.load import chat_asker, chat_fn_index, resident_kib, visitor
from bench.serve_bench import drive, served_seed

FLOODER = {"x-forwarded-for": "10.66.0.1"}


def flood(url: str, joins: int, chars: int, threads: int = 20) -> dict[int, int]:
    """``joins`` queue/join requests of ``chars``-character questions from one address,
    ``threads`` at a time; their statuses."""
    fn_index = chat_fn_index(url)
    questions = long_questions(chars, joins)
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    per_thread = joins // threads

    def send(offset: int) -> None:
        with httpx.Client(timeout=60, headers=FLOODER) as client:
            for n in range(offset, offset + per_thread):
                body = {
                    "data": [questions[n], [], None],
                    "fn_index": fn_index,
                    "session_hash": uuid.uuid4().hex,
                    "trigger_id": 1,
                }
                try:
                    status = client.post(f"{url}/chat/gradio_api/queue/join", json=body).status_code
                except httpx.HTTPError:
                    status = 0
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                time.sleep(threads * 10.0 / joins)  # the whole flood within about 10 s

    workers = [threading.Thread(target=send, args=(n * per_thread,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return statuses


def print_flood(url: str, pid: int, joins: int, chars: int) -> None:
    ask = chat_asker(url)
    questions = seed_questions()
    # Warm: the first answers, short and long, fill the caches and the model's buffers (a
    # 2,000-character batch needs larger ones), so what follows is growth, not first use.
    with httpx.Client(timeout=120, headers=visitor(0)) as client:
        for question in questions[:8] + long_questions(chars, 8):
            ask(client, question)
    time.sleep(2)
    before = resident_kib(pid)
    done = threading.Event()
    latencies: list[float] = []
    failures = [0]

    def normal_user() -> None:
        with httpx.Client(timeout=120, headers=visitor(1)) as client:
            n = 0
            while not done.is_set():
                started = time.perf_counter()
                try:
                    failures[0] += not ask(client, questions[n % len(questions)])
                except httpx.HTTPError:  # not answered within the client's 120 s
                    failures[0] += 1
                latencies.append(time.perf_counter() - started)
                n += 1
                time.sleep(1.0)

    user = threading.Thread(target=normal_user)
    user.start()
    started = time.perf_counter()
    statuses = flood(url, joins, chars)
    flooded = time.perf_counter() - started
    during = resident_kib(pid)
    time.sleep(10)
    done.set()
    user.join()
    after = resident_kib(pid)
    print(
        f"flood: {joins} joins of {chars}-character questions from one address in "
        f"{flooded:.1f} s; statuses {statuses}"
    )
    print(
        f"normal visitor: {len(latencies)} questions, {failures[0]} failed, "
        f"p50 {1000 * statistics.median(latencies):.0f} ms, slowest {max(latencies):.2f} s "
        f"({'meets' if max(latencies) <= 5 else 'misses'} the 5 s target)"
    )
    growth = after / before - 1
    print(
        f"resident memory: {before / 1024:.0f} MiB before, {during / 1024:.0f} MiB at the "
        f"flood's end, {after / 1024:.0f} MiB 10 s later ({100 * growth:+.1f} %; "
        f"{'meets' if growth <= 0.10 else 'misses'} the 10 % target)"
    )


def long_questions(chars: int, count: int = 2000) -> list[str]:
    """``count`` different questions of ``chars`` characters (none answered from a cache)."""
    words = ["alliance", "defence", "ukraine", "summit", "energy", "cyber", "partners", "support"]
    questions = []
    for n in range(count):
        text = " ".join(words[(n + i * 3) % len(words)] for i in range(chars // 5))
        questions.append(f"{n} {text}"[: chars - 1] + "?")
    return questions


def print_fairness(url: str, duration: float, long_clients: int, long_chars: int) -> None:
    # Numbered, so that no question is asked twice: each pays for its own forward pass.
    short = [f"{q} {n}" for n in range(200) for q in seed_questions()]

    def api(client: httpx.Client, question: str) -> bool:
        return client.post(f"{url}/api/ask", json={"question": question}).status_code == 200

    alone = drive(api, short, 1, duration)
    stop = threading.Event()
    loaders = threading.Thread(
        target=drive, args=(api, long_questions(long_chars), long_clients, float("inf"), stop)
    )
    loaders.start()
    time.sleep(1)
    beside = drive(api, short, 1, duration)
    stop.set()
    loaders.join()
    ratio = beside["p50_ms"] / alone["p50_ms"]
    print(
        f"short question p50: {alone['p50_ms']:.0f} ms alone, {beside['p50_ms']:.0f} ms beside "
        f"{long_clients} clients sending {long_chars}-character questions "
        f"(x{ratio:.2f}; {'meets' if ratio <= 2 else 'misses'} the 2x target); "
        f"p99 {alone['p99_ms']:.0f} / {beside['p99_ms']:.0f} ms; errors "
        f"{alone['errors']} / {beside['errors']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("flood", "fairness", "all"), default="all")
    parser.add_argument("--joins", type=int, default=1000)
    parser.add_argument("--flood-chars", type=int, default=2000, help="the flood's question length")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per fairness run")
    parser.add_argument("--long-clients", type=int, default=4)
    parser.add_argument("--long-chars", type=int, default=2000)
    args = parser.parse_args(argv)
    with served_seed("qabot-hostile-") as (url, process):
        if args.part in ("fairness", "all"):
            print_fairness(url, args.duration, args.long_clients, args.long_chars)
        if args.part in ("flood", "all"):
            print_flood(url, process.pid, args.joins, args.flood_chars)
    return 0


if __name__ == "__main__":
    sys.exit(main())
