"""One bounded log line per error, ours or Gradio's; tracebacks only at debug level.

Left alone, an error escaping the app is logged by uvicorn with its whole traceback, and
Gradio prints the traceback of every event that fails (``traceback.print_exc``), whose text
can quote the whole request: one chat request carrying 40,000 messages wrote 255 MB of log
and stalled the event loop while it did. Here:

- `ErrorLog` (outermost middleware) catches what escapes the app, answers 500 if nothing was
  sent yet, and logs one line of at most `MAX_LOG_CHARS` characters;
- `quiet_gradio_tracebacks` routes Gradio's printed tracebacks to the same kind of line.

Either logs the full traceback at debug level (``qabot serve --log-level debug``).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
import traceback
from types import ModuleType
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qabot.web.metrics import method_label, route_name

logger = logging.getLogger(__name__)

MAX_LOG_CHARS = 300
# The Gradio modules that print tracebacks of failed events (gradio 6).
_GRADIO_PRINTERS = ("gradio.queueing", "gradio.route_utils", "gradio.utils")


def one_line(exc: BaseException, limit: int = MAX_LOG_CHARS) -> str:
    """``Type: the first line of the message``, at most ``limit`` characters, printable."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    line = line.encode("unicode_escape", "backslashreplace").decode("ascii")
    return line if len(line) <= limit else line[: limit - 1] + "…"


class ErrorLog:
    """Catches an exception escaping the app: 500 if no response started, one log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def noting_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, noting_send)
        except Exception as exc:
            where = f"{method_label(scope.get('method', ''))} {route_name(scope.get('path', ''))}"
            logger.error("%s failed: %s", where, one_line(exc))
            logger.debug("%s failed", where, exc_info=exc)
            if started:  # end the response cleanly (a stream, most likely) rather than cut it
                with contextlib.suppress(Exception):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"detail":"Server error."}'})


class _BoundedTraceback(ModuleType):
    """The `traceback` module, but `print_exc` logs one line (the full text at debug level)."""

    def __init__(self) -> None:
        super().__init__("traceback")

    def __getattr__(self, name: str) -> Any:
        return getattr(traceback, name)

    @staticmethod
    def print_exc(*args: Any, **kwargs: Any) -> None:
        exc = sys.exc_info()[1]
        if exc is None:
            return
        logger.error("chat event failed: %s", one_line(exc))
        logger.debug("chat event failed", exc_info=exc)


def quiet_gradio_tracebacks() -> None:
    """Make Gradio's printed tracebacks one log line each (idempotent; process-wide).

    Gradio has no setting for this; its modules print through the name ``traceback``, which
    is replaced in those modules only.
    """
    bounded = _BoundedTraceback()
    for name in _GRADIO_PRINTERS:
        module = importlib.import_module(name)
        if isinstance(getattr(module, "traceback", None), ModuleType):
            module.traceback = bounded  # type: ignore[attr-defined]
