"""Values from the database, made safe for the pane they are shown in.

An official ID, a name, a note or a customer's name is whatever someone typed (or imported),
so on a page it must read as text and never as markup: ``<img src=x onerror=…>`` must not
become an image with a script, and ``**bold** [link](javascript:…)`` must not become bold or
a link. Every page puts such values through one of these two functions:

- :func:`html_text` for ``pn.pane.HTML`` (and HTML attributes): ``html.escape``;
- :func:`md_text` for ``pn.pane.Markdown`` and ``pn.pane.Alert``: the characters that make
  Markdown syntax in the middle of a line are backslash-escaped, which CommonMark defines as
  "this character, literally" (https://spec.commonmark.org/0.31.2/#backslash-escapes): raw
  HTML and autolinks (``<``), entities (``&``), emphasis and strike-through (``* _ ~``),
  links and images (``[ ] !``), code (`````), tables (``|``), heading closers (``#``), and
  the ``:`` and ``.`` that Panel's markdown-it ``linkify`` turns into links
  (``www.example.com``, ``http://…``). A value that starts like a list item or a block
  (``-``, ``+``, ``=``, ``1)``) gets its first character escaped too. Other punctuation
  (hyphens, parentheses, slashes, commas, quotes) stays as typed: it is not syntax there, and
  the Markdown source keeps reading like the text. (Math is off on every Markdown pane:
  ``dashboards.app``.)

In Markdown, line breaks become spaces: a value is one line of a table or a sentence (HTML
keeps them, so an error inside ``<pre>`` keeps its lines).

Tables need nothing: Tabulator's cells go through Bokeh's ``StringFormatter`` (text nodes) or
Tabulator's ``link`` formatter (``sanitizeHTML``), and the dashboards use no ``html``
formatter. ``MultiChoice`` labels are the exception: Choices.js renders them as HTML, so they
get :func:`html_text`.
"""

from __future__ import annotations

import html
import re

_MD_SYNTAX = re.compile(r"([\\`*_~\[\]<>&|!#$:.])")
_BLOCK_START = re.compile(r"^([-+=]|\d+\))")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def html_text(value: object) -> str:
    """``value`` as HTML text (``None`` is empty); quotes escaped too, for attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def md_text(value: object) -> str:
    """``value`` as Markdown text that renders literally, on one line (``None`` is empty)."""
    text = "" if value is None else _LINE_BREAKS.sub(" ", str(value))
    text = _MD_SYNTAX.sub(r"\\\1", text)
    return _BLOCK_START.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], text)
