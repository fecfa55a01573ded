"""``qabot mcp``: qabot as a Model Context Protocol server for desktop and IDE assistants."""

from __future__ import annotations

import argparse
import contextlib
import sys

from qabot.cli.chat import require_extra
from qabot.cli.wiring import (
    add_answering_options,
    add_index_options,
    answerer_from_options,
    command,
    log,
)

# What `qabot mcp` imports from the `mcp` extra.
MCP_EXTRA_MODULES = ("mcp",)


def cmd_mcp(args: argparse.Namespace) -> int:
    """Serve the documents to an assistant over the Model Context Protocol, on stdio.

    An assistant (Claude Desktop, an IDE) starts this command and talks to it on stdin and
    stdout. Tools: ask(question, alternatives) gives the same answer record as POST /api/ask;
    search(query, top_k) the best passages with their sources and scores. The resource
    qabot://documents lists the indexed documents. Read-only and offline. Builds the index
    first when it is missing or stale, as `qabot ask` does; logs go to stderr.

    `qabot serve --mcp` serves the same tools over HTTP at /mcp instead.

    Examples:
      qabot mcp
      qabot mcp --index-dir /data/qabot-index --no-verifier
      Claude Desktop's claude_desktop_config.json:
        {"mcpServers": {"qabot": {"command": "qabot", "args": ["mcp", "--index-dir", "/data/index"]}}}
    """
    require_extra("mcp", MCP_EXTRA_MODULES, command="mcp")
    from qabot.web.mcp_server import build_mcp

    # stdout is the protocol's channel: anything a library prints while loading goes to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        answerer = answerer_from_options(args)
        server = build_mcp(answerer)
    log(f"qabot MCP server on stdio: {answerer.manifest.documents} documents indexed.")
    server.run("stdio")
    return 0


def register(subparsers) -> None:
    """Add ``mcp`` to the parser."""
    parser = command(subparsers, "mcp", cmd_mcp, "serve the documents to assistants (MCP, stdio)")
    add_index_options(parser, corpus_positional=False)
    add_answering_options(parser)
