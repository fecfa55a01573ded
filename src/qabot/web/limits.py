"""How long a client may take, in one light module: the server uses these defaults, and the
CLI shows them in ``qabot serve --help`` without importing the web extra."""

DEFAULT_BODY_TIMEOUT = 10.0
"""Seconds a client has to send a whole request body (then 408; `middleware.BodyLimit`)."""

DEFAULT_HEADER_TIMEOUT = 10.0
"""Seconds a client has to send its request headers (then 408; `timeouts.HeaderTimeoutProtocol`)."""

DEFAULT_KEEP_ALIVE_TIMEOUT = 5.0
"""Seconds an idle connection stays open after a response (uvicorn's ``timeout_keep_alive``)."""
