"""Documents: what a corpus folder holds, read and cut into passages.

Owns which files a corpus folder holds (`files`: names checked, symlinks leaving it skipped),
reading files of every format (`corpus`, with `row_formats` for CSV/JSONL rows and
`html_text` for HTML), their structure (dates, sources, FAQ blocks: `structure`), chunking into
`Passage` records (`chunking`), the grain kinds a passage is embedded as (`grains`), the corpus
fingerprint memo (`digest_memo`) and the alternate FAQ phrasings file (`alternates`).

May import: ``qabot.errors``, ``qabot.atomic`` and its own modules. Nothing here knows about
vectors, indexes or answers.
"""
