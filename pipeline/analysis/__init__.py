"""Analyses of embeddings and fitted heads: PCA, robustness, confusion, label issues."""
