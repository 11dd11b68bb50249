"""HTML building blocks for one self-contained page: tables, sections, figures inlined as data URIs."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from PIL import Image

# Photo galleries compress badly as PNG; inline those as JPEG to keep the page light.
_JPEG_ABOVE_BYTES = 400_000


def image_tag(path: Path, alt: str) -> str:
    """An <img> with the figure inlined, so the page opens from disk with nothing beside it."""
    if not path.is_file():
        return f'<p class="missing">missing: {html.escape(str(path))}</p>'
    data, mime = path.read_bytes(), "image/png"
    if len(data) > _JPEG_ABOVE_BYTES:
        buffer = io.BytesIO()
        Image.open(path).convert("RGB").save(buffer, "JPEG", quality=82, optimize=True)
        data, mime = buffer.getvalue(), "image/jpeg"
    return f'<img src="data:{mime};base64,{base64.b64encode(data).decode()}" alt="{html.escape(alt)}">'


def table(header: list[str], rows: list[list], cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def section(title: str, anchor: str, *parts: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{"".join(parts)}</section>'


def paragraph(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
nav a { margin-right: 1em; } img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; } th { background: #f3f3f3; }
details { margin: 0.8em 0; } summary { cursor: pointer; font-weight: 600; }
.missing { color: #b00; } .note { color: #555; font-size: 0.9em; }
"""

# Counts the images that decoded, so a headless browser test can check that they render.
SCRIPT = """
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  document.body.dataset.images = imgs.length;
  document.body.dataset.imagesRendered = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
});
"""


def page(title: str, subtitle: str, nav: list[tuple[str, str]], sections: list[str]) -> str:
    links = "".join(f'<a href="#{a}">{html.escape(t)}</a>' for t, a in nav)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>"
        f'<h1>{html.escape(title)}</h1><p class="note">{html.escape(subtitle)}</p><nav>{links}</nav>'
        f"{''.join(sections)}</body></html>"
    )
