"""Progress bars only on a terminal: a build's log in a file is summary lines, not frames."""

import io
import sys

import pytest

from qabot.cli.wiring import open_answerer

from conftest import SEED_CORPUS
from fakes import FakeEmbedder


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("stderr", "bar"), [(Terminal(), True), (io.StringIO(), False)])
def test_a_build_shows_its_progress_only_on_a_terminal(tmp_path, monkeypatch, stderr, bar):
    monkeypatch.setattr(sys, "stderr", stderr)
    embedder = FakeEmbedder()
    open_answerer(
        SEED_CORPUS, tmp_path / "idx", make_embedder=lambda name: embedder, verifier=False
    )
    assert embedder.progress_calls[0] is bar
