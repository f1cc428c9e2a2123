"""Text as Markdown that shows exactly that text: the one escaping rule of everything the
suite writes as Markdown (the report, the llama-bench table)."""

from __future__ import annotations

import re

# What Markdown or HTML would read in text: always a backslash, backquote, *, <, >, &, | or $
# (GitHub's math); a _ not inside a word; a ] that would close a link; a # opening the text.
_SPECIAL = re.compile(r"[\\`*<>&|$]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|\](?=[(\[:])|^#")


class Markup(str):
    """Text the report wrote as Markdown on purpose (``*noisy*``): ``escape`` leaves it be."""


def escape(text: object) -> str:
    """Any text as Markdown that shows exactly that text: each character Markdown or HTML
    would read (``<``, ``*``, backquote, backslash, ...) backslash-escaped; a line break as a
    space (a table cell is one line)."""
    if isinstance(text, Markup):
        return text
    return _SPECIAL.sub(lambda match: "\\" + match.group(), str(text).replace("\n", " "))
