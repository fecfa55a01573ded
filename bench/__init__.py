"""Benchmarks: scripts that print figures and assert nothing (``bench/README.md`` lists them).

Each module is a command, run from the repository root as ``.venv/bin/python -m bench.<name>``
(``--help`` says what it measures). `bench.data` is the one place that knows where the
benchmark data live and how to read them; `bench.dev_corpora` holds the dev corpora as embedded
grain rows for the scripts that choose the ranking and fit the confidence. Finished research
that no longer drives a default is kept apart in `bench.research`.
"""
