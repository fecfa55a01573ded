"""hypothesis strategies shared by the property tests."""

from hypothesis import strategies as st

# Pieces of text, with lone surrogates, controls, separators and format characters drawn
# often. Joined from a list, because st.text() merges an alphabet's branches into one range
# of code points, where the 2,048 surrogates among 1.1 million are almost never drawn (and
# leaves them out entirely unless codec=None).
_PIECE = st.one_of(
    st.text(st.characters(codec=None), max_size=8),
    st.characters(categories=["Cs"], codec=None),
    st.sampled_from(["\x00", "\t", "\r", "\n", "\u2028", "\u2029", "\ufeff", "\u200b", " "]),
)


def any_text(max_pieces: int = 40) -> st.SearchStrategy[str]:
    """Any string at all, lone surrogates and control characters included."""
    return st.lists(_PIECE, max_size=max_pieces).map("".join)
