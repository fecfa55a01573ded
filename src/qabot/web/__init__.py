"""The chat side: the Gradio chat, the JSON API, the embeddable widget and their feedback.

Modules, from the inside out::

    chat.py        Chat, ChatSession: a message in, a rendered reply out (plain Python)
    ui.py          build_chat(answerer) -> Gradio Blocks; only wiring
    batching.py    AnswerBatcher: concurrent questions answered in one batch
    feedback.py    FeedbackStore: questions and votes in SQLite beside the index
    holder.py      AnswererHolder: the answerer the app reads at each request (swappable)
    follow.py      ManifestFollower: swaps in each new build the index's manifest names
    limits.py      the time limits' defaults (light, for the CLI's help)
    middleware.py  BodyLimit, SecurityHeaders, GradioGuard: size and time limits, CSP,
                   the Gradio routes the chat does not use
    timeouts.py    server_config(...): uvicorn settings with a request-header deadline
    api.py         POST /api/ask and the answers to bad requests
    server.py      build_app(...) -> FastAPI: the API, the chat mounted, the widget assets
    mcp_server.py  build_mcp(answerer): the MCP tools for assistants (extra ``mcp``); mount_mcp

Needs the ``web`` extra (``pip install 'qabot[web]'``). Importing this package loads nothing.

May import: ``qabot.answering``, ``qabot.evaluation`` and everything below them, and its own
modules; never cli.
"""
