"""`ManifestFollower`: a running server follows the index's manifest instead of rebuilding.

A build elsewhere (``qabot index``, another replica) commits by replacing ``manifest.json``.
The follower notices the new file (its inode, size and mtime, checked every ``interval``
seconds in a background thread), loads the build it names and swaps the holder's answerer, so
the next request is answered by the new index: no restart, and no request fails. A load that
fails keeps the current answerer and logs one line; the follower tries again on the next change.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from qabot.errors import QabotError
from qabot.index.build import Index, load_index
from qabot.index.manifest import MANIFEST_FILE

if TYPE_CHECKING:
    from qabot.answering.answerer import Answerer
    from qabot.web.holder import AnswererHolder

DEFAULT_FOLLOW_INTERVAL = 1.0
logger = logging.getLogger(__name__)

Signature = tuple[int, int, int, int]


def manifest_signature(index_dir: Path | str) -> Signature | None:
    """What identifies the current manifest file (None when there is none)."""
    try:
        stat = os.stat(Path(index_dir) / MANIFEST_FILE)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


class ManifestFollower:
    """Swaps ``holder``'s answerer whenever the manifest in ``index_dir`` names a new build.

    Args:
        index_dir: the index folder the server answers from.
        holder: the server's answerer holder.
        make_answerer: turns a loaded `Index` into an answerer (same embedder and settings).
        model: the embedder's model; a build of another model is not loaded.
        interval: seconds between checks of the manifest.
        log: where the one-line messages go (a swap, or a load that failed).
    """

    def __init__(
        self,
        index_dir: Path | str,
        holder: AnswererHolder,
        make_answerer: Callable[[Index], Answerer],
        *,
        model: str | None = None,
        interval: float = DEFAULT_FOLLOW_INTERVAL,
        log: Callable[[str], None] = logger.warning,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.holder = holder
        self.make_answerer = make_answerer
        self.model = model
        self.interval = interval
        self.log = log
        self._seen = manifest_signature(self.index_dir)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> bool:
        """Load and swap in the build the manifest names, if it changed; True when swapped."""
        signature = manifest_signature(self.index_dir)
        if signature is None or signature == self._seen:
            return False
        self._seen = signature
        try:
            index = load_index(self.index_dir, model=self.model)
            if index.manifest.data_dir == self.holder.manifest.data_dir:
                return False
            answerer = self.make_answerer(index)
        except (QabotError, OSError, ValueError) as exc:
            self.log(f"Kept the current index: the new build could not be loaded ({exc}).")
            return False
        self.holder.swap(answerer)
        self.log(f"Now serving build {index.manifest.data_dir} ({index.manifest.built_at}).")
        return True

    def start(self) -> ManifestFollower:
        """Check in a background (daemon) thread until `stop`; returns self."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="qabot-follow", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """End the background checks (waits for a load in progress)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception as exc:  # the thread must outlive any one failed check
                self.log(f"Checking the index manifest failed ({exc!r}).")
