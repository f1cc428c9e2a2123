"""A report as a list of blocks, written out as Markdown or as one self-contained HTML page.

Both formats come from the same blocks, so the page and the Markdown never disagree. In
HTML the images are embedded as base64 ``data:`` URIs: the page is one file to share.

Block text is Markdown. Text from a saved run (names, machine labels, reasons) goes in
through ``escape``, so ``<script>`` or ``*`` in it stays text in both formats; table cells
are escaped here unless the report marks them ``Markup``. On the page, tables, plots and
preformatted text scroll inside their own box, and plots are shown at their own size, never
scaled down.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from accelbench.results.markdown import Markup, escape

# A backslash escape, a `code span` or *emphasis*: the Markdown this module writes and reads.
_INLINE = re.compile(r"\\([!-/:-@\[-`{-~])|`([^`]+)`|\*([^*\s][^*]*)\*")


def code_span(text: object) -> str:
    """Text as a `code span`; where it holds a backquote or ``<``, escaped text instead."""
    text = str(text)
    return escape(text) if re.search(r"[`<]", text) else f"`{text}`"


CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 72em; padding: 0 1em; color: #1f2328; line-height: 1.45; }
p, li, h1, h2, h3, figcaption { overflow-wrap: anywhere; }
.scroll { overflow-x: auto; max-width: 100%; margin: 0.6em 0 1.2em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.6em; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { background: #f6f8fa; border-radius: 4px; }
code { padding: 0.1em 0.3em; }
pre { padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
figure { margin: 0.5em 0; }
figure .scroll { margin: 0; }
img { max-width: none; border: 1px solid #eee; display: block; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; margin-top: 1.8em; }
"""


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: set[int] = field(default_factory=set)  # right-aligned column positions


@dataclass
class Document:
    title: str
    blocks: list[tuple[str, object]] = field(default_factory=list)

    def heading(self, level: int, text: str) -> None:
        self.blocks.append(("heading", (level, text)))

    def paragraph(self, text: str) -> None:
        self.blocks.append(("paragraph", text))

    def bullets(self, items: list[str]) -> None:
        if items:
            self.blocks.append(("bullets", list(items)))

    def table(self, table: Table) -> None:
        self.blocks.append(("table", table))

    def image(self, path: Path, alt: str) -> None:
        self.blocks.append(("image", (path, alt)))

    def code(self, text: str) -> None:
        self.blocks.append(("code", text))

    # Markdown -------------------------------------------------------------------------------

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, value in self.blocks:
            if kind == "heading":
                level, text = value  # type: ignore[misc]
                out += ["#" * level + " " + text, ""]
            elif kind == "paragraph":
                out += [str(value), ""]
            elif kind == "bullets":
                out += [f"- {item}" for item in value] + [""]  # type: ignore[union-attr]
            elif kind == "table":
                out += [*_markdown_table(value), ""]  # type: ignore[arg-type]
            elif kind == "image":
                path, alt = value  # type: ignore[misc]
                out += [f"![{alt}]({path.name})", ""]
            elif kind == "code":
                fence = "`" * max(3, _longest_backquote_run(str(value)) + 1)
                out += [f"{fence}text", str(value), fence, ""]
        return "\n".join(out).rstrip() + "\n"

    # HTML -----------------------------------------------------------------------------------

    def html(self) -> str:
        out = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(self.title)}</title>",
            f"<style>{CSS}</style></head><body>",
            f"<h1>{html.escape(self.title)}</h1>",
        ]
        for kind, value in self.blocks:
            if kind == "heading":
                level, text = value  # type: ignore[misc]
                out.append(f"<h{level}>{_inline(text)}</h{level}>")
            elif kind == "paragraph":
                out.append(f"<p>{_inline(str(value))}</p>")
            elif kind == "bullets":
                items = "".join(f"<li>{_inline(i)}</li>" for i in value)  # type: ignore[union-attr]
                out.append(f"<ul>{items}</ul>")
            elif kind == "table":
                out.append(_html_table(value))  # type: ignore[arg-type]
            elif kind == "image":
                path, alt = value  # type: ignore[misc]
                data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
                out.append(
                    f'<figure><div class="scroll"><img alt="{html.escape(alt)}" '
                    f'src="data:image/png;base64,{data}"></div>'
                    f"<figcaption>{html.escape(alt)}</figcaption></figure>"
                )
            elif kind == "code":
                out.append(f"<pre>{html.escape(str(value))}</pre>")
        out.append("</body></html>")
        return "\n".join(out) + "\n"


def _longest_backquote_run(text: str) -> int:
    return max((len(run) for run in re.findall("`+", text)), default=0)


def _cell(text: str) -> str:
    """A table cell as Markdown: escaped unless ``Markup``, a ``|`` escaped either way."""
    cell = escape(text).replace("\n", " ")
    return cell.replace("|", "\\|") if isinstance(text, Markup) else cell


def _markdown_table(table: Table) -> list[str]:
    align = ["---:" if i in table.numeric else "---" for i in range(len(table.header))]
    lines = ["| " + " | ".join(_cell(h) for h in table.header) + " |"]
    lines.append("| " + " | ".join(align) + " |")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    return lines


def _inline(text: str) -> str:
    """Markdown text as HTML: backslash escapes as the character, `code spans` as <code>,
    *emphasis* as <em>, everything else escaped."""
    out, done = [], 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[done : match.start()]))
        escaped, code, emphasis = match.groups()
        if escaped is not None:
            out.append(html.escape(escaped))
        elif code is not None:
            out.append(f"<code>{html.escape(code)}</code>")
        else:
            out.append(f"<em>{_inline(emphasis)}</em>")
        done = match.end()
    out.append(html.escape(text[done:]))
    return "".join(out)


def _html_cell(text: str, numeric: bool) -> str:
    css = ' class="num"' if numeric else ""
    return f"<td{css}>{_inline(escape(text))}</td>"


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{_inline(escape(h))}</th>" for h in table.header)
    body = [
        "<tr>" + "".join(_html_cell(c, i in table.numeric) for i, c in enumerate(row)) + "</tr>"
        for row in table.rows
    ]
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f'<div class="scroll">{table}</div>'
