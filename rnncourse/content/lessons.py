"""Where the master notebook explains what a mistake gets wrong (section and equation).

Each catalogued mistake (:mod:`rnncourse.content.mistakes`) may name a snippet of the
notebook's teaching text: a piece of LaTeX of the equation it breaks, or a few
words of the sentence that states the rule. :func:`locate` finds the section
that introduces the function (the nearest heading above its solution cell) and,
in the markdown between that heading and the solution cell, the display
equation (``$$ ... $$``, numbered within the section) or the sentence holding
the snippet. A mistake without a snippet, or whose snippet is no longer in the
notebook, still gets its section.
"""

import re
from dataclasses import dataclass

from rnncourse import paths

# (function, mistake label) -> snippet of the notebook's markdown (LaTeX or words).
SNIPPETS = {
    ("rnn_cell_forward", "bias_forgotten"): r"+ b_a",
    ("rnn_cell_forward", "output_bias_forgotten"): r"+ b_y",
    ("rnn_cell_forward", "waa_transposed"): r"W_{aa}\, a^{\langle t-1",
    ("rnn_cell_forward", "sigmoid_for_tanh"): r"= \tanh\left(W_{aa}",
    ("rnn_cell_forward", "softmax_axis"): "The softmax is taken over axis 0",
    ("rnn_cell_forward", "softmax_missing"): r"\mathrm{softmax}\left(W_{ya}",
    ("rnn_forward", "a0_every_step"): "is what the cell receives at step",
    ("rnn_cell_backward", "tanh_derivative_wrong_state"): r"dz = da_{next} \odot",
    ("rnn_cell_backward", "tanh_derivative_missing"): r"dz = da_{next} \odot",
    ("rnn_cell_backward", "waa_not_transposed"): r"da_{prev} = W_{aa}^T\, dz",
    ("rnn_backward", "next_step_gradient_not_added"): r"da_{next} = da^{\langle t \rangle} + da_{prev}",
    ("rnn_backward", "gradients_overwritten"): "their gradients are **summed**",
    ("lstm_cell_forward", "concat_order"): "rows of `a_prev` first",
    ("lstm_cell_forward", "forget_gate_missing"): r"\Gamma_f^{\langle t \rangle} \odot c^{\langle t-1",
    ("lstm_cell_forward", "update_gate_missing"): r"\Gamma_u^{\langle t \rangle} \odot \tilde c",
    ("lstm_cell_forward", "tanh_of_c_missing"): r"\odot \tanh(c^{\langle t \rangle})",
    ("lstm_cell_forward", "gate_biases_forgotten"): r"+ b_f)",
    ("lstm_cell_forward", "softmax_axis"): r"\mathrm{softmax}(W_y",
    ("lstm_forward", "c0_not_zeros"): "the initial cell state is **zeros**",
    ("lstm_forward", "a0_every_step"): "now both $a$ and $c$ are carried forward",
    ("lstm_cell_backward", "dc_next_ignored"): r"dc = dc_{next} +",
    ("lstm_cell_backward", "forget_gate_missing_from_dc_prev"): r"dc_{prev} = dc \odot \Gamma_f",
    ("lstm_cell_backward", "sigmoid_derivative_missing"): r"\Gamma_o (1 - \Gamma_o)",
    ("lstm_cell_backward", "tanh_derivative_of_c_missing"): r"(1 - \tanh^2(c^{\langle t",
    ("lstm_cell_backward", "candidate_tanh_derivative_missing"): r"(1 - (\tilde c^{\langle t \rangle})^2)",
    ("lstm_backward", "next_step_gradient_not_added"): "added to the upstream",
    ("lstm_backward", "cell_gradient_not_carried"): "which becomes the next call's `dc_next`",
    ("lstm_backward", "gradients_overwritten"): "Sum the weight and bias gradients",
    ("rnn_cell_forward", "prediction_from_a_prev"): r"\mathrm{softmax}\left(W_{ya}",
    ("rnn_forward", "a0_ignored"): "the first cell receives $a_0$",
    ("rnn_cell_backward", "tanh_applied_twice"): r"1 - \tanh(z)^2 = 1 - (a^{\langle t \rangle})^2",
    ("rnn_cell_backward", "da_next_not_multiplied"): r"dz = da_{next} \odot",
    ("rnn_cell_backward", "dwaa_wrong_state"): r"dW_{aa} = dz\, a^{\langle t-1 \rangle T}",
    ("rnn_backward", "steps_walked_forward"): r"walking backwards from $t = T_x$ to $1$",
    ("rnn_backward", "upstream_gradient_not_added"): r"da_{next} = da^{\langle t \rangle} + da_{prev}",
    ("lstm_cell_forward", "candidate_sigmoid"): r"\tilde c^{\langle t \rangle} = \tanh(W_c",
    ("lstm_forward", "a0_ignored"): "The initial hidden state is $a_0$",
    ("lstm_forward", "c_not_carried"): "now both $a$ and $c$ are carried forward",
    ("lstm_cell_backward", "output_gate_derivative_missing"): r"\Gamma_o (1 - \Gamma_o)",
    ("lstm_cell_backward", "a_next_path_missing_from_dc"): r"dc = dc_{next} +",
    ("lstm_cell_backward", "gates_use_dc_next"): r"d\tilde c = dc \odot",
    ("lstm_cell_backward", "concat_order"): r"dW_g = dg\, [a^{\langle t-1 \rangle}; x^{\langle t \rangle}]^T",
    ("lstm_backward", "steps_walked_forward"): "Walk the steps backwards",
    ("lstm_backward", "upstream_gradient_not_added"): "added to the upstream",
}

_HEADING = re.compile(r"^(#{2,6})\s+(.*\S)\s*$", re.MULTILINE)
_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)


@dataclass
class Location:
    """Where a mistake is explained.

    Attributes
    ----------
    section : str
        Heading of the section, e.g. ``"1.1 The RNN cell"``.
    equation : int or None
        Number of the display equation within the section (1-based), if the
        explanation is an equation.
    text : str
        The equation's LaTeX, or the sentence stating the rule (may be empty).
    """

    section: str
    equation: int = None
    text: str = ""

    def label(self):
        if self.equation:
            return f"section {self.section}, equation {self.equation}"
        return f"section {self.section}" + (", text" if self.text else "")

    def to_dict(self):
        return {"section": self.section, "equation": self.equation, "text": self.text}


def sections(nb=None):
    """``{fn: (heading, [markdown sources from the heading to the solution cell])}``."""
    import nbformat

    if nb is None:
        nb = nbformat.read(str(paths.master_notebook()), as_version=4)
    out, heading, texts = {}, "", []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found = _HEADING.findall(cell.source)
            if found:
                # The last heading of the cell, and only its text from there on.
                last = list(_HEADING.finditer(cell.source))[-1]
                heading, texts = found[-1][1], [cell.source[last.start():]]
            else:
                texts.append(cell.source)
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution") and grade_id:
            out[grade_id] = (heading, list(texts))
    return out


def _sentence(text, snippet):
    i = text.find(snippet)
    start = max(text.rfind(". ", 0, i) + 2, text.rfind("\n", 0, i) + 1, 0)
    ends = [j for j in (text.find(". ", i), text.find("\n", i)) if j >= 0]
    end = min(ends) + 1 if ends else len(text)
    s = " ".join(text[start:end].split())
    s = s[2:] if s.startswith(("- ", "* ")) else s
    return s if len(s) <= 240 else s[:237] + "..."


def locate(fn, label, secs=None):
    """The :class:`Location` explaining mistake ``label`` of ``fn``."""
    secs = sections() if secs is None else secs
    heading, texts = secs.get(fn, ("", []))
    snippet = SNIPPETS.get((fn, label))
    if snippet:
        n = 0
        for t in texts:
            for m in _DISPLAY.finditer(t):
                n += 1
                if snippet in m.group(1):
                    # Several formulas on one line (``\\qquad``): the one holding the snippet.
                    parts = [p for p in re.split(r"\\qquad", m.group(1)) if snippet in p]
                    eq = (parts[0] if parts else m.group(1)).strip().rstrip(",")
                    return Location(heading, n, " ".join(eq.split()))
        for t in texts:
            if snippet in _DISPLAY.sub("", t):
                return Location(heading, None, _sentence(t, snippet))
    return Location(heading)


def all_locations(labels_by_fn, secs=None):
    """``{(fn, label): Location}`` for every ``label`` of ``labels_by_fn`` (reads the notebook once)."""
    secs = sections() if secs is None else secs
    return {(fn, lab): locate(fn, lab, secs) for fn, labs in labels_by_fn.items() for lab in labs}
