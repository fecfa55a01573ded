"""Grain kinds: the texts a passage is embedded as, each tagged with its grain.

Every passage owns vector rows tagged by grain, stored passage by passage and, within a
passage, in grain order (so each (passage, grain) pair is one contiguous run of rows):

    GRAIN_WHOLE     a body passage's context + text; an FAQ entry's question + answer
    GRAIN_QUESTION  an FAQ entry's question (body passages have none)
    GRAIN_SENTENCE  each sentence of a body passage (none when it is a single sentence) or of
                    an FAQ answer

Chunking says which texts a passage has (`Passage.grain_texts`), the index stores their rows
and answering reads the evidence at each grain: the kinds live here, below all three.
"""

GRAIN_WHOLE = 0
GRAIN_QUESTION = 1
GRAIN_SENTENCE = 2
GRAINS = ("whole", "question", "sentence")
