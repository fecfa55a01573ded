"""Answering: a question in, the documents' own words out, with their source and a confidence.

Owns retrieval and its fused ranking (`retrieval`, with the fusion maths in `evidence`), the
answer-type hints (`answer_types`), the per-index facts the confidence reads (`facts`), the
confidence features and model (`features`, `confidence`), the stored calibration
(`calibrated`), question cleaning (`questions`), the `Answer` record (`answer`) and the
`Answerer` that makes it (`answerer`), with the verifier's part in it (`verification`) and the
replies to small talk (`smalltalk`).

May import: ``qabot.index``, ``qabot.documents``, ``qabot.models``, the base modules and its own
modules. Never evaluation, web or cli.
"""
