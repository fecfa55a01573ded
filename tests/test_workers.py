"""``qabot serve --workers 2``: two worker processes on one port, each answering from the index,
their metrics summed by ``/metrics`` (prometheus_client's multiprocess mode)."""

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from qabot.index.manifest import read_manifest

from serving import qabot_serve


def _samples(text: str) -> list:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def test_two_workers_answer_on_one_port_and_share_their_metrics(seed_index_dir, tmp_path):
    workers = ("--workers", "2", "--no-build", "--index-dir", str(seed_index_dir))
    feedback = ("--feedback", str(tmp_path / "feedback.sqlite3"))
    with qabot_serve(*workers, *feedback) as (url, process):
        asked, per_pid = 0, {}
        deadline = time.monotonic() + 180
        # Each request on a new connection, so either worker may accept it.
        while len(per_pid) < 2 and time.monotonic() < deadline:
            for question in ("What is NATO?", "Who won the 1998 World Cup?"):
                record = httpx.post(f"{url}/api/ask", json={"question": question}, timeout=60)
                assert record.status_code == 200
                asked += 1
            samples = _samples(httpx.get(f"{url}/metrics").text)
            per_pid = {
                s.labels["pid"]: s.value
                for s in samples
                if s.name == "qabot_worker_answers" and s.value > 0
            }
        chat = httpx.get(f"{url}/chat/")
    output = process.output
    assert len(per_pid) == 2, (per_pid, output)
    assert sum(per_pid.values()) == asked
    answers = {s.labels["outcome"]: s.value for s in samples if s.name == "qabot_answers_total"}
    assert answers == {"answered": asked / 2, "declined": asked / 2}  # summed over workers
    build = read_manifest(seed_index_dir).data_dir
    serving = {
        s.labels["pid"]
        for s in samples
        if s.name == "qabot_index_build_info" and s.labels["build"] == build and s.value == 1
    }
    assert serving == set(per_pid)  # each worker loaded the index itself
    assert chat.status_code == 404 and "worker processes" in chat.json()["detail"]
    assert "2 worker processes on" in output
