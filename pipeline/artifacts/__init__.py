"""The files stages hand each other: embeddings.h5, predictions, and where a head's features came from."""
