"""What a process does with a shared index folder at start-up: load it, build it once, or wait.

`ensure_index` loads the index, or builds it when it is missing, corrupt, stale or of other
settings; processes that start together build it once. `wait_for_index` is a replica's start:
it never builds, it waits for some other process's build to appear.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from qabot.documents.chunking import DEFAULT_MAX_CHARS
from qabot.errors import CorpusError, IndexNotFoundError, QabotIndexError, StaleIndexError
from qabot.index.build import Index, build_index, check_fresh, load_index
from qabot.index.embedder import check_backend
from qabot.index.folder import build_lock
from qabot.index.late_chunking import SpanEmbedder
from qabot.index.manifest import IndexManifest, read_manifest
from qabot.models.embedding import Embedder
from qabot.version import __version__

DEFAULT_POLL_SECONDS = 0.5


def wait_for_index(
    index_dir: Path | str,
    *,
    wait: float | None = None,
    poll: float = DEFAULT_POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> IndexManifest:
    """Wait until ``index_dir`` has an index (its manifest) and return the manifest.

    ``wait`` None waits for ever; else `IndexNotFoundError` after that many seconds.
    """
    deadline = None if wait is None else time.monotonic() + wait
    while True:
        try:
            return read_manifest(index_dir)
        except IndexNotFoundError:
            if deadline is not None and time.monotonic() >= deadline:
                raise IndexNotFoundError(
                    f"No index appeared in {str(index_dir)!r} within {wait:g} s.",
                    Path(index_dir),
                ) from None
        sleep(poll)


def check_settings(
    manifest: IndexManifest, *, max_chars: int | None = None, follow_symlinks: bool | None = None
) -> None:
    """Raise `StaleIndexError` when the index was built by another qabot or other settings."""
    if manifest.qabot_version != __version__:
        raise StaleIndexError(
            f"Index was built by qabot {manifest.qabot_version}, this is qabot {__version__}."
        )
    if max_chars is not None and max_chars != manifest.max_chars:
        raise StaleIndexError(
            f"Index was built with max_chars={manifest.max_chars}, not {max_chars}."
        )
    if follow_symlinks is not None and follow_symlinks != manifest.follow_symlinks:
        raise StaleIndexError(
            f"Index was built with follow_symlinks={manifest.follow_symlinks}, "
            f"not {follow_symlinks}."
        )


def ensure_index(
    corpus_path: Path | str | None,
    index_dir: Path | str,
    make_embedder: Callable[[str], Embedder],
    *,
    model: str | None = None,
    default_model: str,
    default_corpus: Path | str = "corpus",
    max_chars: int | None = None,
    progress: bool = False,
    build: bool = True,
    log: Callable[[str], None] = lambda message: None,
    confidence: Mapping[str, object] | None = None,
    verifier: Mapping[str, object] | None = None,
    choose_fusion: Callable[[Mapping[str, object]], Mapping[str, object]] | None = None,
    follow_symlinks: bool | None = None,
) -> tuple[Index, Embedder]:
    """Load the index, rebuilding it first when missing, corrupt, stale or of other settings.

    ``corpus_path`` None means the corpus the index was built from (``default_corpus`` when
    there is no index yet). When that corpus is not on this machine (a replica sharing the
    index folder), the index is served as built. ``max_chars`` None means the index's own
    (a rebuild keeps it); a different value rebuilds. ``make_embedder(name)`` is called once,
    with ``model`` or else the index's model. ``progress`` is passed to `build_index`.
    ``build=False`` (a replica) never builds: it loads the index as it is, or raises.
    ``confidence`` and ``verifier`` (plain records) are written to a new build's manifest,
    with ``choose_fusion``'s record of the build's profile (`build_index`).
    ``follow_symlinks`` True reads links leaving the corpus folder; None means the index's own
    setting (False for a new index), as for ``max_chars``.

    When several processes find the index missing or stale at once, one builds and the others
    wait for its commit and load it. Returns the index and the embedder, ready to answer.
    """
    try:
        manifest: IndexManifest | None = read_manifest(index_dir)
    except QabotIndexError:
        if not build:
            raise
        manifest = None
    embedder = make_embedder(model or (manifest.model if manifest else None) or default_model)
    if not build:
        index = load_index(index_dir, model=embedder.name)
        check_backend(index.manifest, embedder, Path(index_dir))
        return index, embedder
    if corpus_path is None:
        corpus_path = manifest.corpus_path if manifest else default_corpus
    elif not Path(corpus_path).exists():
        raise CorpusError(f"Corpus path {str(corpus_path)!r} does not exist.")
    if max_chars is None:
        max_chars = manifest.max_chars if manifest else DEFAULT_MAX_CHARS
    if follow_symlinks is None:
        follow_symlinks = manifest.follow_symlinks if manifest else False
    settings = {"max_chars": max_chars, "follow_symlinks": follow_symlinks}
    # A rebuild keeps the index's own sentence vectors, when this embedder can pool them.
    late = manifest is not None and manifest.sentence_vectors == "late"
    sentence_vectors = "late" if late and isinstance(embedder, SpanEmbedder) else "rows"
    index, reason = _load_current(index_dir, embedder, corpus_path, settings, log)
    if index is not None:
        return index, embedder
    # One builder at a time; whoever waited here loads the build just committed instead.
    with build_lock(Path(index_dir)):
        index, _ = _load_current(index_dir, embedder, corpus_path, settings, log)
        if index is None:
            log(f"{reason} Building the index in {str(index_dir)!r} from {str(corpus_path)!r} ...")
            index = build_index(
                corpus_path,
                index_dir,
                embedder,
                max_chars=max_chars,
                progress=progress,
                confidence=confidence,
                verifier=verifier,
                choose_fusion=choose_fusion,
                follow_symlinks=follow_symlinks,
                sentence_vectors=sentence_vectors,
            )
            for problem in index.manifest.problems:
                log(f"skipped: {problem}")
    return index, embedder


def _load_current(
    index_dir: Path | str,
    embedder: Embedder,
    corpus_path: Path | str,
    settings: Mapping[str, object],
    log: Callable[[str], None],
) -> tuple[Index | None, str]:
    """The index when it is current for these settings, else None and the reason why."""
    try:
        index = load_index(index_dir, model=embedder.name)
        check_backend(index.manifest, embedder, Path(index_dir))
        check_settings(index.manifest, **settings)
        if Path(corpus_path).exists():
            check_fresh(index.manifest, corpus_path, index_dir=index.index_dir)
        else:
            log(f"Corpus {str(corpus_path)!r} is not here; serving the index as it was built.")
        return index, ""
    except QabotIndexError as exc:
        return None, str(exc)
