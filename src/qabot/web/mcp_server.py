"""qabot as a Model Context Protocol server: sourced answers for desktop and IDE assistants.

`build_mcp` makes an MCP server (the official ``mcp`` SDK's `MCPServer`) over a loaded
answerer, read-only and offline::

    tool ask(question, alternatives)   the answer record, as POST /api/ask returns it
    tool search(query, top_k)          the ranked passages, with their sources and scores
    resource qabot://documents         the indexed documents (id, title, path, counts)

``qabot mcp`` serves it over stdio; ``qabot serve --mcp`` mounts it at ``/mcp`` with the
streamable HTTP transport (`mount_mcp`), behind the app's Host and CORS rules. Errors follow
the API's: a bad question gets the same sentence as its 422, a fault of the server the same
sentence as its 500, with one log line.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import Field

from qabot.answering.answer import Source
from qabot.answering.answerer import DEFAULT_ALTERNATIVES, Answerer
from qabot.answering.questions import clean_question
from qabot.errors import QuestionError
from qabot.version import __version__
from qabot.web.api import ANSWER_FAILED, MAX_ALTERNATIVES, one_line
from qabot.web.holder import AnswererHolder, hold

if TYPE_CHECKING:
    from fastapi import FastAPI

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
DOCUMENTS_URI = "qabot://documents"
DEFAULT_SEARCH_TOP_K = 5
MAX_SEARCH_TOP_K = 50
INSTRUCTIONS = (
    "Answers questions from a fixed set of local documents, quoting them with their source; "
    "it never makes text up. Use `ask` for one answer (found is false when the documents do "
    "not answer), `search` for the ranked passages, and the documents resource for what the "
    "index covers."
)


def build_mcp(answerer: Answerer | AnswererHolder, *, name: str = "qabot") -> MCPServer:
    """The MCP server over ``answerer`` (a holder's swaps are followed, call by call)."""
    holder = hold(answerer)
    # log_level: the SDK configures the root logger at construction; WARNING keeps the
    # server's logs to warnings and errors, as the rest of qabot's are.
    server = MCPServer(name, version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool(annotations={"readOnlyHint": True, "openWorldHint": False})
    def ask(
        question: Annotated[str, Field(description="The question, in plain words.")],
        alternatives: Annotated[
            int,
            Field(ge=0, le=MAX_ALTERNATIVES, description="Next-best matches beside the answer."),
        ] = DEFAULT_ALTERNATIVES,
    ) -> dict[str, Any]:
        """Answer a question from the documents: their own words, with the source.

        The same record as qabot's POST /api/ask: `found` is false when nothing in the
        documents answers (then `suggestions` lists close FAQ questions); `kind` is "faq",
        "passage", or "smalltalk" for our own replies to greetings and the like.
        """
        return _guarded(lambda: holder.answer(question, alternatives).to_dict())

    @server.tool(annotations={"readOnlyHint": True, "openWorldHint": False})
    def search(
        query: Annotated[str, Field(description="What to look for, in plain words.")],
        top_k: Annotated[
            int, Field(ge=1, le=MAX_SEARCH_TOP_K, description="How many passages to return.")
        ] = DEFAULT_SEARCH_TOP_K,
    ) -> dict[str, Any]:
        """The passages and FAQ entries that best match the query, best first, with sources.

        `score` ranks them (higher is better; 1.0 for an FAQ question asked verbatim); it is
        not a probability: use `ask` for an answer and its confidence.
        """
        return _guarded(lambda: {"query": query, "results": search_records(holder, query, top_k)})

    @server.resource(DOCUMENTS_URI, name="documents", mime_type="application/json")
    def documents() -> str:
        """The indexed documents: id, title, path, passages and FAQ entries of each."""
        return json.dumps(_guarded(lambda: document_records(holder)), ensure_ascii=False)

    return server


def search_records(holder: AnswererHolder, query: str, top_k: int) -> list[dict[str, Any]]:
    """The ``top_k`` best hits for ``query`` as plain records.

    Raises:
        QuestionError: the query is empty.
    """
    cleaned, _ = clean_question(query)
    hits = holder.current.search_batch([cleaned], top_k)[0]
    return [
        {
            "passage_id": hit.passage.passage_id,
            "kind": hit.passage.kind,
            "text": hit.passage.text,
            "faq_question": hit.passage.question,
            "score": round(hit.fused_score, 4),
            "source": json.loads(json.dumps(asdict(Source.of(hit.passage)))),  # tuples: lists
        }
        for hit in hits
    ]


def document_records(holder: AnswererHolder) -> list[dict[str, Any]]:
    """One record per indexed document, in index order."""
    records: dict[str, dict[str, Any]] = {}
    for passage in holder.passages:
        record = records.setdefault(
            passage.doc_id,
            {
                "doc_id": passage.doc_id,
                "title": passage.title,
                "path": passage.path,
                "passages": 0,
                "faq_entries": 0,
            },
        )
        record["faq_entries" if passage.kind == "faq" else "passages"] += 1
    return list(records.values())


def _guarded(work: Callable[[], Any]) -> Any:
    """``work()``, its errors as the API gives them: a bad question's sentence, else a fixed one."""
    try:
        return work()
    except QuestionError as exc:  # its messages are fixed sentences written for people
        raise ToolError(str(exc)) from exc
    except Exception as exc:  # a fault of the server, not of the question: no details out
        logger.error("mcp answering failed: %s: %s", type(exc).__name__, one_line(exc))
        raise ToolError(ANSWER_FAILED) from exc


def mount_mcp(app: FastAPI, server: MCPServer) -> None:
    """Serve ``server`` at ``/mcp`` (streamable HTTP) inside ``app``, for its lifespan.

    The app's own middleware applies (trusted Host names, CORS, body limits), so the SDK's
    own DNS-rebinding check is left off rather than kept in two places.
    """
    inner = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    app.router.routes.extend(inner.routes)
    outer = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        async with server.session_manager.run(), outer(app) as state:
            yield state

    app.router.lifespan_context = lifespan
