"""Finished research: what was tried, what it found, and the scripts that still reproduce it.

Nothing here drives a default any more; each module's docstring opens with what it found, and
its figures sit beside it (``ideas.md``, ``int8-recipe.md``). Run from the repository root as
``.venv/bin/python -m bench.research.<name>``.
"""
