"""``GET /metrics``: requests and latency by route, answers and declines, the build in service."""

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient
from stubs import StubAnswerer, served_manifest

from qabot.web.holder import AnswererHolder
from qabot.web.metrics import route_name
from qabot.web.server import build_app


def _stub(build: str) -> StubAnswerer:
    stub = StubAnswerer({"What is NATO?": (True, "An alliance.")}, faq=("What is NATO?",))
    stub.manifest = served_manifest(build, built_at="2030")
    return stub


def _values(client: TestClient, name: str) -> dict[tuple, float]:
    text = client.get("/metrics").text
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_metrics_count_requests_answers_and_the_build_in_service():
    holder = AnswererHolder(_stub("data-1"))
    with TestClient(build_app(holder, chat=False)) as client:
        for question in ("What is NATO?", "What is NATO?", "Who won?"):
            assert client.post("/api/ask", json={"question": question}).status_code == 200
        assert client.post("/api/ask", json={"question": "  "}).status_code == 422
        assert client.get("/healthz").status_code == 200
        assert client.get("/wp-login.php").status_code == 404
        response = client.get("/metrics")
        assert response.headers["content-type"].startswith("text/plain; version=")

        requests = _values(client, "qabot_http_requests_total")
        assert requests[(("method", "POST"), ("route", "/api/ask"), ("status", "200"))] == 3
        assert requests[(("method", "POST"), ("route", "/api/ask"), ("status", "422"))] == 1
        assert requests[(("method", "GET"), ("route", "/healthz"), ("status", "200"))] == 1
        assert requests[(("method", "GET"), ("route", "other"), ("status", "404"))] == 1
        latency = _values(client, "qabot_http_request_duration_seconds_count")
        assert latency[(("route", "/api/ask"),)] == 4

        answers = _values(client, "qabot_answers_total")
        assert answers == {
            (("channel", "api"), ("outcome", "answered")): 2,
            (("channel", "api"), ("outcome", "declined")): 1,
        }
        builds = _values(client, "qabot_index_build_info")
        assert builds == {(("build", "data-1"), ("built_at", "2030"), ("model", "stub")): 1}

        holder.swap(_stub("data-2"))
        builds = _values(client, "qabot_index_build_info")
        assert builds == {
            (("build", "data-1"), ("built_at", "2030"), ("model", "stub")): 0,
            (("build", "data-2"), ("built_at", "2030"), ("model", "stub")): 1,
        }


def test_two_apps_in_one_process_keep_their_own_metrics():
    first, second = build_app(_stub("a"), chat=False), build_app(_stub("b"), chat=False)
    with TestClient(first) as one, TestClient(second) as two:
        one.post("/api/ask", json={"question": "What is NATO?"})
        assert _values(one, "qabot_answers_total") != {}
        assert _values(two, "qabot_answers_total") == {}


def test_routes_are_a_fixed_set_of_names():
    assert route_name("/api/ask") == "/api/ask"
    assert route_name("/chat/gradio_api/queue/join") == "/chat/gradio_api"
    assert route_name("/chat/") == "/chat"
    assert route_name("/static/widget.css") == "/static"
    assert route_name("/redoc") == "/docs"
    assert route_name("/random/../../etc/passwd") == "other"
