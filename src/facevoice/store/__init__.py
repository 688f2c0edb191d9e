"""Embedding store: one encoder's embeddings keyed by item_id, written in shards."""

from facevoice.store.embedding_store import EmbeddingStore, StoreError

__all__ = ["EmbeddingStore", "StoreError"]
