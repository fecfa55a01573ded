"""`qabot mcp`: the MCP tools and resource, through the official SDK's own client.

The end-to-end test starts ``qabot mcp`` as an assistant does (a process on stdio) against the
real index of the shipped corpus; the others connect the client in-process to a small index.
"""

import json
import os
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters

from qabot.answering.answer import DECLINE_MESSAGE
from qabot.answering.answerer import Answerer
from qabot.web.api import ANSWER_FAILED
from qabot.web.mcp_server import DOCUMENTS_URI, build_mcp, mount_mcp
from qabot.web.server import LOOPBACK_HOSTS, build_app

from conftest import ANSWER_KEYS, ROOT
from fakes import shop_answerer
from serving import running


@pytest.fixture
def answerer(tmp_path: Path, fake_embedder):
    return shop_answerer(tmp_path, fake_embedder)


def session(server, work):
    """Run ``work(client)`` with the SDK's client connected to ``server``; its result."""

    async def main():
        async with Client(server) as client:
            return await work(client)

    return anyio.run(main)


def structured(result) -> dict:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def test_ask_gives_the_api_record(answerer):
    async def work(client):
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        found = await client.call_tool("ask", {"question": "Can I return shoes?"})
        hello = await client.call_tool("ask", {"question": "hello", "alternatives": 0})
        return tools, structured(found), structured(hello)

    tools, found, hello = session(build_mcp(answerer), work)
    assert set(tools) == {"ask", "search"}
    assert tools["ask"].annotations.read_only_hint is True
    assert found == answerer.answer("Can I return shoes?").to_dict()
    assert set(found) == ANSWER_KEYS and found["kind"] == "faq"
    assert hello["kind"] == "smalltalk" and hello["suggestions"] == ["Can I return shoes?"]


def test_search_and_the_documents_resource(answerer):
    async def work(client):
        hits = await client.call_tool("search", {"query": "deliveries", "top_k": 2})
        resources = (await client.list_resources()).resources
        listing = await client.read_resource(DOCUMENTS_URI)
        return structured(hits), resources, json.loads(listing.contents[0].text)

    hits, resources, documents = session(build_mcp(answerer), work)
    assert [r["passage_id"] for r in hits["results"]] == ["help.md#0", "help.md#faq-0"]
    assert hits["results"][0]["source"]["title"] == "Shop help"
    assert hits["results"][0]["score"] > hits["results"][1]["score"]
    assert [str(r.uri) for r in resources] == [DOCUMENTS_URI]
    assert documents == [
        {
            "doc_id": "help.md",
            "title": "Shop help",
            "path": "help.md",
            "passages": 1,
            "faq_entries": 1,
        }
    ]


def test_errors_follow_the_api(answerer):
    broken = Answerer(answerer.retriever)
    broken.answer_batch = lambda *args, **kwargs: 1 / 0  # a fault inside the server

    async def work(client):
        empty = await client.call_tool("ask", {"question": "  "})
        too_many = await client.call_tool("search", {"query": "shoes", "top_k": 500})
        return empty, too_many

    empty, too_many = session(build_mcp(answerer), work)
    # The SDK names the tool before the message: "Error executing tool ask: <the API's words>".
    assert empty.is_error and empty.content[0].text.endswith(
        ": The question is empty: type a question."
    )
    assert too_many.is_error and "top_k" in too_many.content[0].text

    async def fault(client):
        return await client.call_tool("ask", {"question": "Can I return shoes?"})

    failed = session(build_mcp(broken), fault)
    assert failed.is_error and failed.content[0].text.endswith(f": {ANSWER_FAILED}")


@pytest.mark.slow
def test_qabot_mcp_over_stdio_answers_from_the_real_index(seed_index_dir):
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "qabot", "mcp", "--index-dir", str(seed_index_dir)],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        cwd=str(ROOT),
    )

    async def work(client):
        answer = await client.call_tool("ask", {"question": "What is NATO?"})
        unknown = await client.call_tool("ask", {"question": "How do I roast Brussels sprouts?"})
        hits = await client.call_tool("search", {"query": "NATO-Ukraine Council", "top_k": 3})
        return structured(answer), structured(unknown), structured(hits)

    answer, unknown, hits = session(server, work)
    assert answer["found"] and answer["kind"] == "faq"
    assert answer["source"]["doc_id"] == "nato-ukraine-2023-11-29.txt"
    assert not unknown["found"] and unknown["answer"] == DECLINE_MESSAGE
    assert len(hits["results"]) == 3
    assert all(h["source"]["doc_id"] == "nato-ukraine-2023-11-29.txt" for h in hits["results"])


@pytest.mark.slow
def test_serve_mounts_the_tools_over_http_under_the_api_host_rules(answerer):
    app = build_app(answerer, chat=False, trusted_hosts=LOOPBACK_HOSTS)
    mount_mcp(app, build_mcp(app.state.answerer))

    async def work(client):
        return structured(await client.call_tool("ask", {"question": "Can I return shoes?"}))

    with running(app) as url:
        answer = session(f"{url}/mcp", work)
        rebound = httpx.post(f"{url}/mcp", json={}, headers={"Host": "evil.example"})
    assert answer == answerer.answer("Can I return shoes?").to_dict()
    assert rebound.status_code == 400
