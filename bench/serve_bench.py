"""Serving benchmark: cold start of ``qabot serve`` and ``/api/ask`` under load.

Prints figures; asserts nothing. Run from the repository root:

    .venv/bin/python -m bench.serve_bench                 # 20 s per level, as in the README
    .venv/bin/python -m bench.serve_bench --duration 5    # quicker
    .venv/bin/python -m bench.serve_bench --workers 1 2 --clients 8   # worker processes

1. Cold start: a fresh ``qabot serve`` process (index already built) until ``/healthz`` answers
   200, and until the first ``/api/ask`` answer.
2. Baseline: this process loads the same index and answers the same questions one at a time.
3. Load: this process (a second process, on loopback) keeps 1, 8 and 32 clients asking at once.

With ``--workers 1 2`` it instead starts ``qabot serve --workers N`` for each N, waits until
every worker serves (``/metrics`` shows one build line per worker), and measures the load
levels against each. Target (issue 11): 0 errors; the throughput is reported.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from bench.data import SEED_CORPUS, SEED_DEV, seed_questions
from qabot.offline import OFFLINE_ENV as OFFLINE


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build_index(workdir: Path) -> Path:
    """Index the shipped corpus into ``workdir/index`` with ``qabot index``; the folder."""
    index_dir = workdir / "index"
    command = [sys.executable, "-m", "qabot", "index", str(SEED_CORPUS)]
    subprocess.run(
        [*command, "--index-dir", str(index_dir)],
        check=True,
        capture_output=True,
        env={**os.environ, **OFFLINE},
    )
    return index_dir


def cold_start(
    index_dir: Path, workdir: Path, extra: tuple[str, ...] = ()
) -> tuple[subprocess.Popen, str, float, float]:
    """Start ``qabot serve``; returns the process, its URL, seconds to healthy and to answer."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "qabot", "serve", "--corpus", str(SEED_CORPUS)]
    command += ["--index-dir", str(index_dir), "--port", str(port), *extra]
    command += ["--feedback", str(workdir / "feedback.sqlite3")]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env={**os.environ, **OFFLINE}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    with httpx.Client(timeout=30) as client:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"qabot serve exited: {process.stderr.read().decode()}")
            try:
                if client.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        healthy = time.perf_counter() - started
        client.post(f"{url}/api/ask", json={"question": "What is NATO?"}).raise_for_status()
        answered = time.perf_counter() - started
    return process, url, healthy, answered


@contextlib.contextmanager
def served_seed(prefix: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """``qabot serve`` on the seed corpus (indexed in a temporary folder) for the block; its
    URL and process. Prints the machine's load and the time to healthy first."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        workdir = Path(tmp)
        index_dir = build_index(workdir)
        print(f"CPUs: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f} before the run")
        process, url, healthy, _ = cold_start(index_dir, workdir)
        try:
            print(f"qabot serve healthy after {healthy:.1f} s (pid {process.pid})", flush=True)
            yield url, process
        finally:
            process.terminate()
            process.wait(timeout=30)


def baseline(index_dir: Path, questions: list[str], duration: float) -> dict[str, float]:
    """Questions per second answered in-process, one at a time, by the same answerer.

    Measured in the main thread and in a worker thread: PyTorch runs one short query much
    faster outside the main thread here (its intra-op thread pool is per thread), and the
    server answers in worker threads, so the fair baseline is the better of the two.
    """
    from qabot.cli import open_answerer

    answerer = open_answerer(SEED_CORPUS, index_dir, progress=False)
    answerer.answer("warm up")
    rates: dict[str, float] = {}

    def run(where: str) -> None:
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < duration / 2:
            answerer.answer(questions[done % len(questions)])
            done += 1
        rates[where] = done / (time.perf_counter() - started)

    run("main thread")
    worker = threading.Thread(target=run, args=("worker thread",))
    worker.start()
    worker.join()
    return rates


Asker = Callable[[httpx.Client, str], bool]
"""Asks one question with a client; True when it was answered."""


def drive(
    asker: Asker,
    questions: list[str],
    clients: int,
    duration: float,
    stop: threading.Event | None = None,
    headers: Callable[[int], dict[str, str]] | None = None,
) -> dict:
    """``clients`` threads calling ``asker`` in a loop for ``duration`` s (or until ``stop`` is
    set); latency and errors. ``headers(n)``: the headers of client ``n``'s requests."""
    stop = stop or threading.Event()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + duration

    def worker(number: int) -> None:
        mine: list[float] = []
        failed, n = 0, number * 7
        with httpx.Client(timeout=120, headers=headers(number) if headers else None) as client:
            while time.perf_counter() < stop_at and not stop.is_set():
                t0 = time.perf_counter()
                try:
                    ok = asker(client, questions[n % len(questions)])
                except httpx.HTTPError:
                    ok = False
                mine.append(time.perf_counter() - t0)
                failed += not ok
                n += 1
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors[0],
        "throughput": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
    }


def api_asker(url: str) -> Asker:
    """Asks through ``POST /api/ask``."""

    def ask(client: httpx.Client, question: str) -> bool:
        response = client.post(f"{url}/api/ask", json={"question": question, "alternatives": 2})
        return response.status_code == 200 and "found" in response.json()

    return ask


def load(url: str, questions: list[str], clients: int, duration: float) -> dict:
    """``clients`` threads asking ``/api/ask`` in a loop for ``duration`` s."""
    return drive(api_asker(url), questions, clients, duration)


def serving_workers(url: str) -> int:
    """How many worker processes serve a build (the build gauge has one line per worker)."""
    lines = httpx.get(f"{url}/metrics", timeout=30).text.splitlines()
    return sum(
        1 for line in lines if line.startswith("qabot_index_build_info{") and line.endswith(" 1.0")
    )


def compare_workers(args: argparse.Namespace, index_dir: Path, workdir: Path) -> None:
    """``qabot serve --workers N`` for each N of ``args.workers``, under each load level."""
    questions = seed_questions()
    print(
        f"{'workers':>7} {'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}"
    )
    rates: dict[tuple[int, int], float] = {}
    for workers in args.workers:
        process, url, _, _ = cold_start(index_dir, workdir, ("--workers", str(workers)))
        try:
            deadline = time.monotonic() + 300
            while serving_workers(url) < workers:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{workers} workers did not all start")
                time.sleep(0.5)
            for clients in args.clients:
                r = load(url, questions, clients, args.duration)
                rates[workers, clients] = r["throughput"]
                print(
                    f"{workers:>7} {r['clients']:>7} {r['requests']:>8} {r['errors']:>6} "
                    f"{r['throughput']:>7.1f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f}",
                    flush=True,
                )
        finally:
            process.terminate()
            process.wait(timeout=60)
    low, high = min(args.workers), max(args.workers)
    for clients in args.clients:
        if (low, clients) in rates and (high, clients) in rates and low != high:
            ratio = rates[high, clients] / rates[low, clients]
            print(f"{clients} clients: --workers {high} gives {ratio:.2f}x --workers {low}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per load level")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--workers", type=int, nargs="+", help="compare these --workers counts")
    args = parser.parse_args(argv)
    questions = seed_questions()
    if args.workers:
        with tempfile.TemporaryDirectory(prefix="qabot-bench-") as tmp:
            workdir = Path(tmp)
            index_dir = build_index(workdir)
            print(f"CPUs: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f} before the run")
            compare_workers(args, index_dir, workdir)
        return 0

    with tempfile.TemporaryDirectory(prefix="qabot-bench-") as tmp:
        workdir = Path(tmp)
        index_dir = build_index(workdir)
        print(f"CPUs: {os.cpu_count()}; {len(questions)} questions from {SEED_DEV.name}")
        process, url, healthy, answered = cold_start(index_dir, workdir)
        try:
            print(
                f"cold start: /healthz 200 after {healthy:.2f} s, first answer after {answered:.2f} s"
            )
            rates = baseline(index_dir, questions, args.duration)
            alone = max(rates.values())
            shown = ", ".join(f"{rate:.1f}/s in the {where}" for where, rate in rates.items())
            print(f"in-process answerer alone, one question at a time: {shown}")
            print(
                f"{'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}"
            )
            results = []
            for clients in args.clients:
                r = load(url, questions, clients, args.duration)
                results.append(r)
                print(
                    f"{r['clients']:>7} {r['requests']:>8} {r['errors']:>6} "
                    f"{r['throughput']:>7.1f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f}"
                )
            eight = next((r for r in results if r["clients"] == 8), None)
            if eight:
                ratio = eight["throughput"] / alone
                verdict = "meets" if ratio >= 0.8 else "misses"
                print(f"8 clients: {ratio:.2f}x the in-process answerer ({verdict} the 0.8x goal)")
        finally:
            process.terminate()
            process.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
