"""Models: the neural parts, each behind a small protocol.

Owns the `Embedder` protocol and the sentence-transformers embedder (`embedding`), the ONNX
export and runtime (`onnx_export`, `onnx_embedder`), the choice of backend (`backends`), the
Ray Data embedder for builds on a cluster (`ray_embedding`), cross-encoder reranking
(`reranking`) and the shipped answerability verifier (`verifier`, weights in ``qabot/data/verifier``).

May import: ``qabot.errors`` and its own modules. Models know texts and arrays, not indexes,
passages or answers.
"""
