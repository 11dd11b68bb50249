"""The task's data: which images, their labels and their split (the `data` params block)."""
