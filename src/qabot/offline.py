"""The environment that keeps every library qabot uses off the network.

One constant, shared by the CLI, the tests, the benchmarks and the notebook. Only the CLI (and
those scripts) apply it: importing qabot changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

OFFLINE_ENV: dict[str, str] = {
    # Models load from disk only; nothing reports usage; Gradio stays quiet.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_offline_env(environ: MutableMapping[str, str] | None = None) -> None:
    """Set the offline variables that are not set already (in ``os.environ`` by default)."""
    environ = os.environ if environ is None else environ
    for name, value in OFFLINE_ENV.items():
        environ.setdefault(name, value)
