"""Connection timeouts for serving the app with uvicorn, including the one uvicorn lacks.

uvicorn (0.3x–0.5x) has these settings for a connection: ``timeout_keep_alive`` (an idle
connection after a response is closed, default 5 s), ``h11_max_incomplete_event_size`` (how
large request headers may grow, default 16 KiB), ``limit_concurrency`` and
``limit_max_requests``. It has no limit on how long a client may take to send its request
headers: neither its h11 nor its httptools protocol starts a timer before a request begins, so
a client trickling header bytes holds a connection forever. `HeaderTimeoutProtocol` adds
that timer to uvicorn's h11 protocol. The body's own deadline is `qabot.web.middleware.BodyLimit`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from qabot.web.limits import DEFAULT_HEADER_TIMEOUT, DEFAULT_KEEP_ALIVE_TIMEOUT

logger = logging.getLogger(__name__)

MAX_HEADER_BYTES = 16 * 1024
_TIMED_OUT_TEXT = b"The request was not sent in time.\n"
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
) % (len(_TIMED_OUT_TEXT), _TIMED_OUT_TEXT)


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers are not complete
    within ``header_timeout`` seconds of when they were awaited (with a 408)."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._sync_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._sync_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._sync_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _awaiting_headers(self) -> bool:
        # IDLE: no request line and headers yet (a new connection, or the next request).
        return self.conn.their_state is h11.IDLE and (
            self.cycle is None or self.cycle.response_complete
        )

    def _sync_header_timer(self) -> None:
        if not self._awaiting_headers():
            self._cancel_header_timer()
        elif self._header_timer is None:  # the deadline runs from when the headers were awaited
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        # After an upgrade (WebSocket) the transport belongs to another protocol.
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return
        if self._awaiting_headers():
            logger.debug("request headers not complete within %.1f s: closed", self.header_timeout)
            self.transport.write(_TIMED_OUT)
            self.transport.close()


def header_timeout_protocol(seconds: float) -> type[HeaderTimeoutProtocol]:
    """`HeaderTimeoutProtocol` with its deadline set (uvicorn builds protocols from a class)."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": seconds})


def server_config(
    app: Any,
    *,
    host: str,
    port: int,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    keep_alive_timeout: float = DEFAULT_KEEP_ALIVE_TIMEOUT,
    log_level: str = "warning",
    protocol: type[HeaderTimeoutProtocol] | None = None,
    **kwargs: Any,
) -> uvicorn.Config:
    """The uvicorn settings ``qabot serve`` runs with: every connection timeout set explicitly.

    Args:
        app: the ASGI app (`qabot.web.server.build_app`).
        host: the address to bind.
        port: the port to bind.
        header_timeout: seconds a client has to send its request headers.
        keep_alive_timeout: seconds an idle connection is kept open after a response.
        log_level: uvicorn's log level.
        protocol: the HTTP protocol class (default: `header_timeout_protocol` of
            ``header_timeout``). Worker processes need a class pickle can find by name:
            `HeaderTimeoutProtocol` itself, its deadline then set in each worker.
        **kwargs: other `uvicorn.Config` settings.
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol or header_timeout_protocol(header_timeout),
        timeout_keep_alive=keep_alive_timeout,  # type: ignore[arg-type]  # a float works
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        log_level=log_level,
        **kwargs,
    )
