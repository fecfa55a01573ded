"""`ErrorLog` and `one_line`: an error is one bounded log line; its traceback only at debug."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from qabot.web.errorlog import MAX_LOG_CHARS, ErrorLog, one_line


def _failing(request):
    raise ValueError("bad value\n" + "details " * 10_000)


def _app() -> ErrorLog:
    return ErrorLog(Starlette(routes=[Route("/api/ask", _failing, methods=["GET"])]))


def test_one_line_is_short_single_and_printable():
    line = one_line(ValueError("first line\x1b[31m\nsecond line " + "x" * 5000))
    assert line.startswith("ValueError: first line\\x1b[31m")
    assert "\n" not in line and "second" not in line
    assert len(line) <= MAX_LOG_CHARS
    assert one_line(KeyError()) == "KeyError"


def test_an_error_before_any_response_is_a_500():
    async def raising(scope, receive, send):
        raise RuntimeError("boom")

    response = TestClient(ErrorLog(raising)).get("/anything")  # no lifespan: a bare app
    assert response.status_code == 500
    assert response.json() == {"detail": "Server error."}


def test_an_error_is_a_500_and_one_line_without_its_traceback(caplog):
    caplog.set_level(logging.WARNING, logger="qabot")
    with TestClient(_app()) as client:
        response = client.get("/api/ask")
    assert response.status_code == 500
    (record,) = [r for r in caplog.records if r.name == "qabot.web.errorlog"]
    assert record.getMessage() == "GET /api/ask failed: ValueError: bad value"
    assert record.exc_info is None
    assert "Traceback" not in caplog.text


def test_debug_level_adds_the_traceback(caplog):
    caplog.set_level(logging.DEBUG, logger="qabot")
    with TestClient(_app()) as client:
        assert client.get("/api/ask").status_code == 500
    assert "Traceback" in caplog.text and "_failing" in caplog.text
