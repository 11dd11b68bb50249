"""The commands: one entry point per DVC stage, and `predict`; each reads its own params block."""
