"""``GET /metrics``: requests and latency by route, answers and declines, the build in service."""

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient
from stubs import StubAnswerer, served_manifest

from qabot.web.holder import AnswererHolder
from qabot.web.metrics import method_label, route_name
from qabot.web.server import build_app

LOOPBACK = ("127.0.0.1", 50000)  # /metrics is served to loopback clients only, by default


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
    with TestClient(build_app(holder, chat=False), client=LOOPBACK) as client:
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
    with TestClient(first, client=LOOPBACK) as one, TestClient(second, client=LOOPBACK) as two:
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


def test_methods_are_a_fixed_set_of_names():
    assert [method_label(m) for m in ("GET", "POST", "OPTIONS", "DELETE")] == [
        "GET",
        "POST",
        "OPTIONS",
        "DELETE",
    ]
    assert method_label("X" * 8000) == "other"
    assert method_label("get") == "other"


def test_metrics_do_not_grow_with_what_clients_send():
    """The probe: 2,000 requests with random 8,000-character methods grew /metrics to 33 MB."""
    with TestClient(build_app(_stub("data-1"), chat=False), client=LOOPBACK) as client:
        client.request("BREW", "/random/first")  # every line the flood could touch exists
        client.get("/metrics")
        before = len(client.get("/metrics").content)
        for n in range(200):
            client.request(f"M{n:04d}" + "X" * 8000, f"/random/{n}")
        after = client.get("/metrics").content
    assert b"XXXX" not in after
    requests = _family_samples(after, "qabot_http_requests_total")
    assert {labels["method"] for labels in requests} == {"GET", "other"}
    assert len(after) - before < 100  # a few counts gain digits; no line is added


def _family_samples(text: bytes, name: str) -> list[dict]:
    return [
        sample.labels
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
        if sample.name == name
    ]


def test_metrics_are_for_loopback_clients_only_by_default():
    app = build_app(_stub("data-1"), chat=False)
    with TestClient(app, client=("203.0.113.9", 4000)) as outsider:
        assert outsider.get("/metrics").status_code == 404
    with TestClient(app, client=("::1", 4000)) as local:
        assert local.get("/metrics").status_code == 200


def test_metrics_need_the_token_when_one_is_set():
    app = build_app(_stub("data-1"), chat=False, metrics_token="s3cret")
    with TestClient(app, client=("203.0.113.9", 4000)) as outsider:
        refused = outsider.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert outsider.get("/metrics", headers={"authorization": "Bearer nope"}).status_code == 401
        allowed = outsider.get("/metrics", headers={"authorization": "Bearer s3cret"})
        assert allowed.status_code == 200 and b"qabot_http_requests_total" in allowed.content
    with TestClient(app, client=LOOPBACK) as local:  # a proxy on this host is loopback too
        assert local.get("/metrics").status_code == 401
