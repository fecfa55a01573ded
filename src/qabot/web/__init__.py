"""The chat side: the Gradio chat, the JSON API, the embeddable widget and their feedback.

Modules, from the inside out::

    chat.py        Chat, ChatSession: a message in, a rendered reply out (plain Python)
    ui.py          build_chat(answerer) -> Gradio Blocks; only wiring
    batching.py    AnswerBatcher: concurrent questions answered in one batch
    feedback.py    FeedbackStore: questions and votes in SQLite beside the index
    middleware.py  BodyLimit, SecurityHeaders: request-size limits and CSP for the app
    server.py      build_app(...) -> FastAPI: the API, the chat mounted, the widget assets

Needs the ``web`` extra (``pip install 'qabot[web]'``). Importing this package loads nothing.
"""
