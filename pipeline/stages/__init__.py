"""DVC stage entry points: each module has `main(argv)` and reads its own params block."""
