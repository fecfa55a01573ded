"""Replicas target of issue 9: two replicas on one index while ``qabot index`` rebuilds it.

Prints figures; asserts nothing. Run from the repository root:

    .venv/bin/python -m bench.replicas                   # 8 API clients, 3 rebuilds
    .venv/bin/python -m bench.replicas --clients 4 --rebuilds 2

1. Builds the shipped corpus (A) into a fresh index folder with ``qabot index``.
2. Starts two ``qabot serve --no-build`` replicas on that folder, on two ports.
3. From this process (a second one), ``--clients`` API clients ask ``POST /api/ask`` in a loop,
   spread over both replicas; a watcher polls each replica's ``/healthz`` (its ``build``).
4. Meanwhile ``qabot index`` rebuilds the folder ``--rebuilds`` times, alternating corpus B
   (A plus one document, so the answers change) and A.

Reports: failed requests (target 0); whether a replica built (target: no; every data folder
is one ``qabot index`` committed); for each commit, the seconds until each replica serves it
(target <= 5 s), measured from the manifest's modification time to the first ``/healthz``
that names the new build; and whether the canary question is answered as the newest corpus
says.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.data import SEED_CORPUS, seed_questions
from bench.serve_bench import api_asker, drive, free_port
from qabot.index.manifest import MANIFEST_FILE, read_manifest
from qabot.offline import OFFLINE_ENV as OFFLINE

CANARY_QUESTION = "What colour is the replica canary?"
CANARY_DOC = (
    "# Replica canary\n\nThe replica canary is ultramarine blue. It sings only when the index "
    "was built from corpus B, so replicas that serve corpus B answer this question.\n"
)


def corpora(workdir: Path) -> tuple[Path, Path]:
    """Corpus A (the shipped one) and B (A plus the canary document)."""
    b = workdir / "corpus-b"
    shutil.copytree(SEED_CORPUS, b)
    (b / "replica-canary.md").write_text(CANARY_DOC, encoding="utf-8")
    return SEED_CORPUS, b


def qabot_index(corpus: Path, index_dir: Path) -> float:
    """Run ``qabot index``; the wall-clock time of its commit (the manifest's mtime)."""
    command = [sys.executable, "-m", "qabot", "index", str(corpus), "--index-dir", str(index_dir)]
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, **OFFLINE})
    return (index_dir / MANIFEST_FILE).stat().st_mtime


def start_replica(index_dir: Path, workdir: Path, n: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "qabot", "serve", "--no-build", "--index-dir", str(index_dir)]
    command += ["--port", str(port), "--feedback", str(workdir / f"feedback-{n}.sqlite3")]
    log = (workdir / f"replica-{n}.log").open("w")
    process = subprocess.Popen(
        command, env={**os.environ, **OFFLINE}, stdout=log, stderr=subprocess.STDOUT
    )
    return process, f"http://127.0.0.1:{port}"


def wait_healthy(urls: list[str], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    for url in urls:
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not become healthy")
            time.sleep(0.25)


class BuildWatcher:
    """Polls a replica's ``/healthz``; remembers when each build was first served."""

    def __init__(self, url: str, interval: float = 0.1) -> None:
        self.url = url
        self.interval = interval
        self.first_seen: dict[str, float] = {}
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> BuildWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                try:
                    build = client.get(f"{self.url}/healthz").json()["build"]
                    self.first_seen.setdefault(build, time.time())
                except (httpx.HTTPError, ValueError, KeyError):
                    self.failures += 1
                self._stop.wait(self.interval)


def spread_asker(urls: list[str]):
    """An API asker that sends each client's questions to one replica, clients alternating."""
    askers = [api_asker(url) for url in urls]
    counter = iter(range(1 << 62))
    chosen: dict[int, int] = {}

    def ask(client: httpx.Client, question: str) -> bool:
        replica = chosen.setdefault(id(client), next(counter) % len(askers))
        return askers[replica](client, question)

    return ask


def rebuild_under_load(args, index_dir: Path, a: Path, b: Path, urls: list[str]) -> tuple:
    """The load, the watchers and the rebuilds; returns (load figures, commits, watchers)."""
    watchers = [BuildWatcher(url).start() for url in urls]
    result: dict = {}
    stop = threading.Event()
    load = threading.Thread(
        target=lambda: result.update(
            drive(spread_asker(urls), seed_questions(), args.clients, float("inf"), stop)
        )
    )
    load.start()
    time.sleep(args.settle)
    commits: list[tuple[str, float, str]] = []
    for n in range(args.rebuilds):
        corpus = b if n % 2 == 0 else a
        committed = qabot_index(corpus, index_dir)
        build = read_manifest(index_dir).data_dir
        commits.append((build, committed, "B" if corpus == b else "A"))
        print(f"rebuild {n + 1}: corpus {commits[-1][2]} committed as {build}", flush=True)
        time.sleep(args.gap)
    stop.set()
    load.join()
    for watcher in watchers:
        watcher.stop()
    return result, commits, watchers


def report(result: dict, commits: list, watchers: list, index_dir: Path, urls, logs) -> None:
    """Print the figures: failed requests, builds, pick-up times, the canary's answers."""
    print(
        f"load: {result['clients']} API clients over 2 replicas, {result['requests']} requests, "
        f"{result['errors']} failed (target 0), p50 {result['p50_ms']:.0f} ms, "
        f"p99 {result['p99_ms']:.0f} ms"
    )
    folders = sorted(
        p.name for p in index_dir.iterdir() if p.is_dir() and p.name.startswith("data-")
    )
    # Every folder must be one that `qabot index` committed (the first build is commits[0]).
    extra = [f for f in folders if f not in {c[0] for c in commits}]
    print(
        f"data folders: {len(folders)} ({len(commits)} built by qabot index); folders no "
        f"qabot index committed: {len(extra)}; a replica logged a build: "
        f"{any('Building the index' in text for text in logs)}"
    )
    lags = []
    for build, committed, corpus in commits[1:]:
        seen = [w.first_seen.get(build) for w in watchers]
        lag = [None if s is None else s - committed for s in seen]
        lags.extend(lag)
        shown = ", ".join("never" if x is None else f"{x:.2f} s" for x in lag)
        print(f"  build {build} (corpus {corpus}): served by the replicas after {shown}")
    worst = max((x for x in lags if x is not None), default=float("nan"))
    verdict = "meets" if None not in lags and worst <= 5.0 else "misses"
    print(f"slowest pick-up: {worst:.2f} s ({verdict} the <= 5 s target)")
    newest_b = commits[-1][2] == "B"
    for url in urls:
        found = httpx.post(f"{url}/api/ask", json={"question": CANARY_QUESTION}).json()["found"]
        print(
            f"  {url}: canary answered {found} (newest build is corpus {commits[-1][2]}: "
            f"expected {newest_b})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="API clients (default 8)")
    parser.add_argument("--rebuilds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds of load first")
    parser.add_argument("--gap", type=float, default=10.0, help="seconds after each rebuild")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="qabot-replicas-") as tmp:
        workdir = Path(tmp)
        a, b = corpora(workdir)
        index_dir = workdir / "index"
        committed = qabot_index(a, index_dir)
        first = (read_manifest(index_dir).data_dir, committed, "A")
        print(f"CPUs: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f} before the run")
        replicas = [start_replica(index_dir, workdir, n) for n in range(2)]
        urls = [url for _, url in replicas]
        try:
            wait_healthy(urls)
            result, commits, watchers = rebuild_under_load(args, index_dir, a, b, urls)
            commits.insert(0, first)
            logs = [(workdir / f"replica-{n}.log").read_text() for n in range(2)]
            report(result, commits, watchers, index_dir, urls, logs)
        finally:
            for process, _ in replicas:
                process.terminate()
                process.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
