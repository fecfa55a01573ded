"""The JSON API: ``POST /api/ask`` and how its bad requests are answered.

The route answers through the app's `AnswerBatcher`, so concurrent API questions share one
batched encode with the chat's. Library errors become fixed sentences for people; faults of
the server become a 500 without details, and one bounded log line.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from qabot.answering.answerer import DEFAULT_ALTERNATIVES, MAX_ALTERNATIVES
from qabot.errors import QuestionError
from qabot.web.batching import AnswerBatcher
from qabot.web.feedback import FeedbackStore
from qabot.web.metrics import ServerMetrics

logger = logging.getLogger(__name__)

ANSWER_FAILED = "The question could not be answered; please try again or rephrase it."


class AskRequest(BaseModel):
    """The body of ``POST /api/ask``."""

    question: str = Field(
        description="The question, in plain words.", examples=["How does NATO support Ukraine?"]
    )
    alternatives: int | None = Field(
        default=None,
        ge=0,
        le=MAX_ALTERNATIVES,
        description=f"Next-best matches returned beside the answer (default {DEFAULT_ALTERNATIVES}).",
    )


def add_api_routes(
    app: FastAPI, batcher: AnswerBatcher, feedback: FeedbackStore | None, metrics: ServerMetrics
) -> None:
    """``POST /api/ask``, answered through the app's `AnswerBatcher`."""

    @app.post("/api/ask", tags=["answers"])
    async def ask(request: AskRequest) -> dict:
        """Answer a question: the same record as ``qabot ask --json``.

        ``found`` is false when the documents do not answer; ``suggestions`` then lists close
        FAQ questions. Questions longer than the limit are trimmed (``truncated``). Greetings,
        thanks, "help" and the like get our own short reply: ``kind`` is ``smalltalk``, with
        starter questions in ``suggestions``.
        """
        try:
            answer = await asyncio.wrap_future(
                batcher.submit(request.question, request.alternatives)
            )
        except QuestionError as exc:  # its messages are fixed sentences written for people
            logger.debug("question refused: %s", exc)
            return JSONResponse({"detail": str(exc)}, status_code=422)
        except Exception as exc:  # a fault of the server, not of the question: no details out
            logger.error("answering failed: %s: %s", type(exc).__name__, one_line(exc))
            return JSONResponse({"detail": ANSWER_FAILED}, status_code=500)
        metrics.answered(answer, "api")
        if feedback is not None:  # a WAL insert without fsync: too quick to need a thread
            feedback.record_answer(answer, channel="api")
        return answer.to_dict()


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's text on one line, cut to ``limit`` characters, for a log line."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """A 400 for a body that is not JSON, else a 422 naming each bad field."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return JSONResponse(
            {"detail": 'The body is not valid JSON; send {"question": "...", "alternatives": 2}.'},
            status_code=400,
        )
    problems = []
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return JSONResponse({"detail": "Invalid request: " + "; ".join(problems)}, status_code=422)
