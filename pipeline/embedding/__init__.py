"""Embeddings as the stages use them: the extractor, vectors into the store, nearest neighbours."""
