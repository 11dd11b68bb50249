"""The figures of each stage, drawn from its typed results; `plots` holds the shared primitives."""

import matplotlib

matplotlib.use("Agg")  # PNG files only: stages run headless
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plt"]
