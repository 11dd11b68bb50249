"""The features library as the stages use it: the extractor the params describe, vectors into the store."""
