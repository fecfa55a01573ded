"""schemathesis against the app's own OpenAPI schema: valid and invalid requests, no 5xx.

The app is called in-process (ASGI), with the real model and the seed index. Each operation
gets a bounded number of generated examples, in both of schemathesis's modes (requests the
schema allows, and requests it forbids), so the module stays well under 30 s.

schemathesis's pytest plugin (``parametrize``/``from_fixture``) does not run under pytest 9,
so the operations' strategies are drawn by a plain hypothesis test instead.
"""

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from strategies import any_text

from qabot.web.server import build_app

EXAMPLES_PER_MODE = 40


@pytest.fixture(scope="module")
def api_schema(seed_answerer, feedback):
    app = build_app(seed_answerer, feedback=feedback)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_the_schema_names_the_api(api_schema):
    labels = sorted(result.ok().label for result in api_schema.get_all_operations())
    assert labels == ["GET /healthz", "POST /api/ask"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_request_is_a_server_error(api_schema, mode):
    statuses: list[int] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if mode is GenerationMode.NEGATIVE and not len(operation.body):
            continue  # nothing to get wrong in a request without a body (GET /healthz)

        @settings(
            max_examples=EXAMPLES_PER_MODE,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(operation.as_strategy(generation_mode=mode))
        def call(case):
            response = case.call()
            statuses.append(response.status_code)
            case.validate_response(response, checks=[not_a_server_error])
            if response.status_code >= 400:  # a refusal says why, in a sentence
                assert isinstance(response.json()["detail"], str), response.text

        call()
    assert statuses and max(statuses) < 500
    if mode is GenerationMode.NEGATIVE:  # forbidden requests were made, and refused
        assert any(400 <= status < 500 for status in statuses)


@pytest.fixture(scope="module")
def api_client(seed_answerer):
    from starlette.testclient import TestClient

    with TestClient(build_app(seed_answerer)) as client:
        yield client


def test_any_question_text_is_answered_or_refused(api_client):
    # Any code point, lone surrogates included: JSON carries them as \ud800 escapes.
    texts = any_text(20)

    @settings(max_examples=80, deadline=None, database=None)
    @given(texts)
    def ask(question):
        body = json.dumps({"question": question})  # ASCII, so a surrogate travels escaped
        response = api_client.post(
            "/api/ask", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code in (200, 422), response.text
        if response.status_code == 422:
            assert response.json()["detail"].startswith("The question ")

    ask()
