"""A self-contained HTML page: tables and PNG figures embedded as base64 data URIs.

The page needs no server and no external asset (inline CSS, images as ``data:`` URIs, no
fonts or scripts from elsewhere). A small inline script records, once the page has loaded,
how many images decoded (``<body data-images-total="N" data-images-loaded="M">``), so a
headless browser can check that every figure shows.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #1d2330; background: #f5f6f8; line-height: 1.45; }
header { background: #23304a; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 1.6em; }
header p { margin: 0; opacity: 0.8; }
nav { padding: 8px 32px; background: #e6e9ef; font-size: 0.92em; }
nav a { margin-right: 16px; color: #23304a; text-decoration: none; }
main { max-width: 1180px; margin: 0 auto; padding: 8px 32px 40px; }
section { background: #fff; border-radius: 8px; padding: 12px 24px 20px; margin: 20px 0;
  box-shadow: 0 1px 3px rgba(0, 0, 0, 0.08); }
h2 { font-size: 1.25em; border-bottom: 2px solid #e6e9ef; padding-bottom: 6px; }
h3 { font-size: 1.02em; margin: 18px 0 6px; }
table { border-collapse: collapse; margin: 4px 0 10px; font-size: 0.92em; }
th, td { padding: 4px 12px; border-bottom: 1px solid #e6e9ef; text-align: left; }
th { background: #f0f2f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 12px 0 20px; }
figure img { max-width: 100%; height: auto; border: 1px solid #e6e9ef; border-radius: 4px; }
figcaption { font-size: 0.9em; color: #555; margin-top: 4px; }
p.note { font-size: 0.9em; color: #555; }
.tables { display: flex; flex-wrap: wrap; gap: 0 36px; }
"""

NUMBER_CELL = re.compile(r"[-+−]?\d+(\.\d+)?(e[-+]?\d+)?( ± \d+(\.\d+)?)?( %)?")

LOAD_CHECK = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (im) { return im.complete && im.naturalWidth > 0; });
  document.body.dataset.imagesTotal = String(images.length);
  document.body.dataset.imagesLoaded = String(loaded.length);
});
"""


@dataclass(frozen=True)
class Table:
    """A table: a header row and rows of already formatted cells."""

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    note: str = ""


@dataclass(frozen=True)
class FigureBlock:
    """A PNG file shown with a title and a caption."""

    title: str
    path: Path
    caption: str = ""


@dataclass(frozen=True)
class Section:
    """A titled part of the page: notes, then tables (side by side), then figures."""

    title: str
    tables: Sequence[Table] = field(default_factory=list)
    figures: Sequence[FigureBlock] = field(default_factory=list)
    notes: Sequence[str] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in self.title.lower())


def data_uri(path: Path) -> str:
    """``data:image/png;base64,...`` of a PNG file."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _is_number(text: str) -> bool:
    """Whether a cell is a number (possibly ``± std`` and ``%``): right-aligned."""
    return NUMBER_CELL.fullmatch(text) is not None


def render_table(table: Table) -> str:
    """``<div>`` with the table's title, the table and its note."""
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = []
    for row in table.rows:
        cells = "".join(
            f'<td class="num">{escape(c)}</td>' if _is_number(c) else f"<td>{escape(c)}</td>"
            for c in row
        )
        body.append(f"<tr>{cells}</tr>")
    note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    return (
        f"<div><h3>{escape(table.title)}</h3><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>{note}</div>"
    )


def render_figure(block: FigureBlock) -> str:
    """``<figure>`` with the PNG embedded."""
    caption = f"<figcaption>{escape(block.caption)}</figcaption>" if block.caption else ""
    return (
        f"<figure><h3>{escape(block.title)}</h3>"
        f'<img src="{data_uri(block.path)}" alt="{escape(block.title)}">{caption}</figure>'
    )


def render_section(section: Section) -> str:
    """``<section>`` with notes, tables and figures."""
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in section.notes)
    tables = "".join(render_table(t) for t in section.tables)
    tables = f'<div class="tables">{tables}</div>' if tables else ""
    figures = "".join(render_figure(f) for f in section.figures)
    return (
        f'<section id="{section.anchor}"><h2>{escape(section.title)}</h2>'
        f"{notes}{tables}{figures}</section>"
    )


def render_page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole HTML document."""
    nav = "".join(f'<a href="#{s.anchor}">{escape(s.title)}</a>' for s in sections)
    body = "\n".join(render_section(s) for s in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body><header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>\n{body}\n</main>"
        f"<script>{LOAD_CHECK}</script></body></html>\n"
    )
