"""Index: the folder of read-only files a build writes and every replica reads.

Owns the manifest (`manifest`), the build and loading (`build`), the embedder an index was built with
(`embedder`), the folder's atomic commits, locks and retention (`folder`), the start-up policy
that rebuilds a missing or stale index (`startup`), the vector store (`store`) and its FAISS
search (`faiss_search`, the only module that imports faiss), grain rows and their maths
(`grains`, `vector_rows`), the BM25 keyword index (`keyword`), candidate sets (`candidates`),
the passage table read from disk (`passage_table`) and the embedding cache (`embed_cache`).

May import: ``qabot.documents``, ``qabot.models``, the base modules (``qabot.errors``,
``qabot.atomic``, ``qabot.version``) and its own modules. The index records what the
answering layer hands it (the confidence model's record) but never reads answering code.
"""
