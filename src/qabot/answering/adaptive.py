"""The fusion a collection asks for: FAQ weights that follow the index's profile.

One fixed formula cannot serve both kinds of FAQ collection (``bench/results/fusion-five.md``):
where questions say what their answers are about (StackExchange-style FAQs), the question
field carries the signal; where they are bare headings ("1. Overview", "Eligibility" on
government rule snippets), users ask about the answer's content and the answer's sentences
and keywords carry it. The build measures which kind a collection is, without labels
(`qabot.index.profile`: the mean cosine between an FAQ question and its entry), and the FAQ
weights slide between two formulas chosen on the dev corpora::

    t      = clip((cosine - LOW) / (HIGH - LOW), 0, 1)     cosine shrunk towards HIGH
    weights = t · QUESTION_LED + (1 - t) · ANSWER_LED          (FAQ weights; passages fixed)

The shrinkage (`PRIOR_ENTRIES` pseudo-entries at ``HIGH``) keeps a collection with a handful
of FAQ entries on the question-led formula. ``bench/adaptive_fusion.py`` chose every constant
on the dev splits (``bench/results/adaptive-fusion.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields

from qabot.answering.evidence import DEFAULT_FUSION, Fusion

QUESTION_LED = DEFAULT_FUSION
"""For collections whose FAQ questions describe their answers (cosine ≥ ``HIGH``)."""
ANSWER_LED = Fusion(0.0, 0.5, 0.5, 0.0, 0.0, 0.5, faq_keyword=0.3, passage_keyword=0.4)
"""For collections whose FAQ questions are bare headings (cosine ≤ ``LOW``)."""
LOW = 0.6
HIGH = 0.8
PRIOR_ENTRIES = 10
_FAQ_FIELDS = ("faq_question", "faq_whole", "faq_sentence", "faq_max", "faq_keyword")


def question_led_share(profile: Mapping[str, object]) -> float:
    """``t`` of the module docstring for an index profile; 1.0 without FAQ entries."""
    entries = profile.get("faq_entries") or 0
    cosine = profile.get("question_answer_cosine")
    if not isinstance(entries, int) or not isinstance(cosine, int | float) or entries <= 0:
        return 1.0
    shrunk = (entries * float(cosine) + PRIOR_ENTRIES * HIGH) / (entries + PRIOR_ENTRIES)
    return min(1.0, max(0.0, (shrunk - LOW) / (HIGH - LOW)))


def fusion_for(profile: Mapping[str, object]) -> Fusion:
    """The fusion for a collection with this profile (`qabot.index.profile.collection_profile`)."""
    return blend(question_led_share(profile))


def blend(
    share: float, question_led: Fusion = QUESTION_LED, answer_led: Fusion = ANSWER_LED
) -> Fusion:
    """``share · question_led + (1 - share) · answer_led`` on the FAQ weights; the passage
    weights are ``question_led``'s (the two formulas share them)."""
    q, a = asdict(question_led), asdict(answer_led)
    mixed = {
        k: round(share * q[k] + (1 - share) * a[k], 4) if k in _FAQ_FIELDS else q[k] for k in q
    }
    return Fusion(**mixed)


def fusion_record(profile: Mapping[str, object]) -> dict[str, object]:
    """What the manifest records of the choice: the share and the weights."""
    share = question_led_share(profile)
    return {
        "rule": "adaptive",
        "question_led_share": round(share, 4),
        "weights": asdict(blend(share)),
    }


def recorded_fusion(record: Mapping[str, object], profile: Mapping[str, object]) -> Fusion:
    """The fusion an index was built for: its manifest's record, else one chosen from its
    profile (an index built before the record existed gets the question-led formula)."""
    weights = record.get("weights")
    names = {f.name for f in fields(Fusion)}
    if isinstance(weights, Mapping) and set(weights) == names:
        try:
            return Fusion(**{k: float(v) for k, v in weights.items()})  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    return fusion_for(profile)
