"""`drawn`: the figures a plot function saved, kept open so a test can read what they show."""

from __future__ import annotations

import pytest

from pipeline.figures import plt


@pytest.fixture
def drawn(monkeypatch):
    close = plt.close
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # save_figure closes each figure it writes
    yield figures
    for figure in figures:
        close(figure)
