"""Closeness with bounds gives difflib's own verdicts, word by word and over a vocabulary."""

from difflib import SequenceMatcher

from qabot.answering.closeness import Vocabulary, close, ratio

WORDS = ["hi", "hello", "helo", "thanks", "thank", "bye", "goodbye", "ok", "okay", "a", "", "héllo"]
SAID = [*WORDS, "hallo", "thx", "goodby", "zzz", "nato", "ukraine", "étés", "bonjour", "yo"]


def _ratio(a: str, b: str) -> float:
    return 1.0 if a == b else SequenceMatcher(None, a, b).ratio()


def test_bounds_never_change_a_closeness_verdict():
    for a in SAID:
        for b in WORDS:
            assert ratio(a, b) == _ratio(a, b)
            for threshold in (0.5, 0.65, 0.8, 1.0):
                assert close(a, b, threshold) == (_ratio(a, b) >= threshold), (a, b, threshold)


def test_a_vocabulary_finds_a_close_word_when_one_is_close():
    vocabulary = Vocabulary([w for w in WORDS if w])
    for word in SAID:
        for threshold in (0.5, 0.65, 0.8, 1.0):
            expected = any(_ratio(word, w) >= threshold for w in WORDS if w)
            assert vocabulary.any_close(word, threshold) == expected, (word, threshold)
    assert not Vocabulary([]).any_close("hello", 0.65)
