"""The markers `make test-fast` relies on: conftest applies ``slow`` and refuses slow work."""

import subprocess

import pytest

from conftest import REAL_MODEL_FIXTURES


def test_every_test_of_the_real_model_is_marked_slow(request: pytest.FixtureRequest):
    unmarked = [
        item.nodeid
        for item in request.session.items
        if REAL_MODEL_FIXTURES.intersection(item.fixturenames)
        and not item.get_closest_marker("slow")
    ]
    assert unmarked == []


def test_an_unmarked_test_may_not_start_a_process():
    with pytest.raises(pytest.fail.Exception, match="starts a process: mark it slow"):
        subprocess.run(["true"], check=True)


def test_an_unmarked_test_may_not_load_a_model(tmp_path):
    from qabot.models.embedding import SentenceTransformerEmbedder

    with pytest.raises(pytest.fail.Exception, match="loads a sentence-transformers model"):
        SentenceTransformerEmbedder(tmp_path)
