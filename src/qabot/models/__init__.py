"""Models: the neural parts, each behind a small protocol.

Owns the `Embedder` protocol and the sentence-transformers embedder (`embedding`), the ONNX
export and runtime (`onnx_export`, `onnx_embedder`), the choice of backend (`backends`), the
Ray Data embedder for builds on a cluster (`ray_embedding`) and cross-encoder reranking
(`reranking`).

May import: ``qabot.errors`` and its own modules. Models know texts and arrays, not indexes,
passages or answers.
"""
