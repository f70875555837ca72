"""HTML and markdown that can never run in a browser: the policy for what a submission shows.

A graded notebook is shown to the instructor in the formgrader (in their logged-in
Jupyter session) and to the student as feedback HTML. nbconvert renders its HTML
outputs and the raw HTML of its markdown as they are, so a submission could put
``<script>``, event handlers or ``javascript:`` links there. This module keeps the
honest part (text, formatting, tables, images) and drops what can run:

- :func:`clean_html` cleans HTML with bleach against an allow-list: no script,
  style sheet, frame, object, form, SVG or MathML element, no event handler, no
  ``id``/``name`` (page elements cannot be shadowed), links only to ``http(s)``,
  ``mailto`` or ``#anchors``, images only from ``data:image/png|jpeg|gif|webp``,
  ``http(s)``, a cell attachment or a plain relative path, inline CSS limited to
  a few layout properties without ``url()``;
- :func:`safe_markdown` renders markdown as nbconvert does (the formgrader and the
  feedback use that renderer) and keeps the source unchanged when everything it
  produces is allowed; otherwise it replaces the source by the cleaned rendering
  (plain HTML, which markdown passes through), checked again, or else by the
  source shown as a code block.

The check parses HTML with html5lib (bleach's parser, the HTML5 algorithm that
browsers use), so what is checked is what a browser would build.
"""

import functools
import re

import bleach
from bleach._vendor import html5lib
from bleach.css_sanitizer import CSSSanitizer

TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del",
    "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small",
    "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
    "tt", "u", "ul", "var",
})
"""Elements kept: text structure, tables, images. Anything else is removed, its text kept."""

DROPPED_WITH_CONTENT = ("script", "style", "template", "noscript", "iframe", "frame", "frameset",
                        "object", "embed", "applet", "svg", "math", "textarea", "title", "xmp",
                        "noembed", "noframes", "select", "button", "form")
"""Elements whose content is removed too (it is code, a style sheet or a widget, not text)."""

CSS_PROPERTIES = frozenset({
    "color", "background-color", "font-weight", "font-style", "font-size", "font-family",
    "text-align", "vertical-align", "text-decoration", "white-space", "line-height", "text-indent",
    "border", "border-top", "border-bottom", "border-left", "border-right", "border-collapse",
    "border-color", "border-style", "border-width", "padding", "padding-top", "padding-bottom",
    "padding-left", "padding-right", "margin", "margin-top", "margin-bottom", "margin-left",
    "margin-right", "width", "height", "max-width", "max-height", "min-width", "list-style-type",
})
"""Inline CSS properties kept (none can load a URL, position an element over the page or run code)."""

PROTOCOLS = frozenset({"http", "https", "mailto", "data", "attachment"})

_COMMON = {"title", "style", "class"}
_PER_TAG = {
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align", "valign"},
    "th": {"colspan", "rowspan", "align", "valign", "scope"},
    "table": {"border", "cellpadding", "cellspacing"},
    "col": {"span"}, "colgroup": {"span"},
    "ol": {"start", "type"}, "li": {"value"},
    "details": {"open"},
    **{f"h{n}": {"id"} for n in range(1, 7)},  # nbconvert's heading anchors
}
_CLASS = re.compile(r"^[A-Za-z0-9_\- ]{0,200}$")
_HEADING_ID = re.compile(r"^\S{1,200}$")
_NUMBER = re.compile(r"^\d{1,5}%?$")
_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=\s]*$", re.IGNORECASE)
_WEB = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)
_ATTACHMENT = re.compile(r"^attachment:[\w.\- ]{1,128}$")
_RELATIVE = re.compile(r"^(?!.*\.\.)[\w][\w./\- ]{0,255}$")
_BAD_CSS = re.compile(r"url\s*\(|expression|@import|\\|javascript:|behavior", re.IGNORECASE)
_STYLE = re.compile(r"<style\b[^>]*>.*?</style\s*>", re.IGNORECASE | re.DOTALL)
_DROP = re.compile(r"<(%s)\b[^>]*>.*?</\1\s*>" % "|".join(DROPPED_WITH_CONTENT), re.IGNORECASE | re.DOTALL)


def _allowed_url(tag, name, value):
    value = value.strip()
    if tag == "a":
        return bool(_WEB.match(value)) or value.startswith("#")
    return bool(_DATA_IMAGE.match(value) or _WEB.match(value) and not value.lower().startswith("mailto:")
                or _ATTACHMENT.match(value) or _RELATIVE.match(value))


def _allowed_attribute(tag, name, value):
    if name not in _COMMON and name not in _PER_TAG.get(tag, ()):
        return False
    if name in ("href", "src"):
        return _allowed_url(tag, name, value)
    if name == "class":
        return bool(_CLASS.match(value))
    if name == "id":
        return bool(_HEADING_ID.match(value))
    if name == "style":
        return not _BAD_CSS.search(value)
    if name in ("width", "height", "colspan", "rowspan", "span", "start", "value", "border",
                "cellpadding", "cellspacing"):
        return bool(_NUMBER.match(value.strip()))
    return True


_CLEANER = bleach.sanitizer.Cleaner(
    tags=TAGS, attributes=_allowed_attribute, protocols=PROTOCOLS, strip=True, strip_comments=True,
    css_sanitizer=CSSSanitizer(allowed_css_properties=CSS_PROPERTIES))


def clean_html(text):
    """``text`` (HTML) with everything that could run removed; safe to put in any page.

    Parameters
    ----------
    text : str
        An HTML fragment (an output's ``text/html``, a raw cell, rendered markdown).

    Returns
    -------
    str
        The cleaned fragment.
    """
    return _CLEANER.clean(_DROP.sub("", text))


def _structure(text):
    """Every element of ``text`` as a browser parses it: ``[(tag, ((attr, value), ...)), ...]``."""
    root = html5lib.parseFragment(text, treebuilder="etree", namespaceHTMLElements=False)
    out = []
    for el in root.iter():
        if not isinstance(el.tag, str) or el is root:
            continue  # comments, the fragment's own root
        attrs = []
        for k, v in el.attrib.items():
            if k == "style":
                v = re.sub(r"\s+|;+$", "", v)
            attrs.append((str(k), v))
        out.append((el.tag.rsplit("}", 1)[-1], tuple(sorted(attrs))))
    return out


def is_clean(text, ignore_style_sheets=False):
    """True when cleaning ``text`` removes no element, attribute or link (nothing in it can run).

    ``ignore_style_sheets``: a ``<style>`` element (pandas puts one before its tables) does not
    count; it is still removed by :func:`clean_html`, as it could restyle the whole page.
    """
    if ignore_style_sheets:
        text = _STYLE.sub("", text)
    return _structure(text) == _structure(clean_html(text))


def render_markdown(source, attachments=None):
    """``source`` rendered to HTML as nbconvert renders markdown cells (formgrader, feedback).

    Returns None when nbconvert cannot render it (e.g. a missing attachment, which
    would make the formgrader's page fail).
    """
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    try:
        renderer = IPythonRenderer(escape=False, attachments=dict(attachments or {}))
        return MarkdownWithMath(renderer=renderer).render(source)
    except Exception:
        return None


def _renders_clean(source, attachments):
    rendered = render_markdown(source, attachments)
    return rendered is not None and is_clean(rendered)


NOTE = "<p><small>(Active content was removed from this cell when the notebook was graded.)</small></p>\n"


def _as_code_block(source):
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", source)), default=0))
    return f"{NOTE}\n{fence}text\n{source}\n{fence}\n"


def safe_markdown(source, attachments=None):
    """Markdown whose rendering can never run: ``source`` itself when it already is.

    Parameters
    ----------
    source : str
        A markdown cell's source or a ``text/markdown`` output.
    attachments : dict, optional
        The cell's attachments (``{name: {mime: base64}}``), already cleaned.

    Returns
    -------
    str
        ``source`` unchanged, or the cleaned rendering (HTML), or ``source`` as a
        code block, whichever is the first whose rendering :func:`is_clean`.
    """
    if not attachments:
        return _safe_markdown_plain(source)
    return _safe_markdown(source, attachments)


@functools.lru_cache(maxsize=4096)
def _safe_markdown_plain(source):
    """:func:`safe_markdown` without attachments, remembered: every student has the released cells."""
    return _safe_markdown(source, None)


def _safe_markdown(source, attachments):
    if _renders_clean(source, attachments):
        return source
    rendered = render_markdown(source, attachments)
    candidates = [_as_code_block(source)]
    if rendered is not None:
        candidates.insert(0, NOTE + clean_html(rendered))
    for candidate in candidates:
        if _renders_clean(candidate, attachments):
            return candidate
    return NOTE
