"""Typical mistakes, each a small edit of the reference solution's source.

A mistake is recognised by comparing a student's output with the output of
the edited reference on the same inputs, never by reading the student's code.
Because each variant is derived from the master notebook's solution, the
catalogue cannot drift from it: ``variant()`` fails loudly if an edit no
longer applies.
"""

from dataclasses import dataclass, field

import numpy as np

from rnncourse.content import reference


def _softmax_over_examples(z):
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


@dataclass(frozen=True)
class Mistake:
    fn: str
    label: str
    message: str
    edits: tuple = ()
    patch: dict = field(default_factory=dict)


_GATE_BIASES = tuple((f"concat + b{g})", "concat)") for g in "fico")

MISTAKES = (
    Mistake("rnn_cell_forward", "bias_forgotten", "the bias b_a was forgotten in the hidden state",
            (("Wax @ xt + ba)", "Wax @ xt)"),)),
    Mistake("rnn_cell_forward", "output_bias_forgotten", "the bias b_y was forgotten in the prediction",
            (("Wya @ a_next + by)", "Wya @ a_next)"),)),
    Mistake("rnn_cell_forward", "waa_transposed", "the weight matrix W_aa is transposed",
            (("Waa @ a_prev", "Waa.T @ a_prev"),)),
    Mistake("rnn_cell_forward", "sigmoid_for_tanh", "sigmoid was used where tanh belongs",
            (("np.tanh(Waa", "sigmoid(Waa"),)),
    Mistake("rnn_cell_forward", "softmax_axis",
            "softmax was taken over the wrong axis (over the examples, axis 1, "
            "instead of over the classes, axis 0)", patch={"softmax": _softmax_over_examples}),
    Mistake("rnn_cell_forward", "softmax_missing", "softmax was not applied to the prediction",
            (("softmax(Wya @ a_next + by)", "(Wya @ a_next + by)"),)),
    Mistake("rnn_cell_forward", "prediction_from_a_prev",
            "the prediction is computed from a_prev instead of the new hidden state a_next",
            (("softmax(Wya @ a_next + by)", "softmax(Wya @ a_prev + by)"),)),
    Mistake("rnn_forward", "a0_ignored",
            "the initial hidden state a0 is not used: the first step starts from zeros",
            (("a_next = a0", "a_next = np.zeros_like(a0)"),)),
    Mistake("rnn_forward", "a0_every_step",
            "the initial hidden state a0 is reused at every step instead of the previous a_next",
            (("rnn_cell_forward(x[:, :, t], a_next,", "rnn_cell_forward(x[:, :, t], a0,"),)),
    Mistake("rnn_cell_backward", "tanh_derivative_wrong_state",
            "the tanh derivative is taken at the wrong state (use 1 - a_next**2, "
            "since a_next = tanh(z))", (("(1 - a_next ** 2)", "(1 - a_prev ** 2)"),)),
    Mistake("rnn_cell_backward", "tanh_derivative_missing",
            "the tanh derivative (1 - a_next**2) is missing", (("da_next * (1 - a_next ** 2)", "da_next"),)),
    Mistake("rnn_cell_backward", "waa_not_transposed",
            "W_aa is not transposed when the gradient flows back to a_prev",
            (("Waa.T @ dz", "Waa @ dz"),)),
    Mistake("rnn_cell_backward", "tanh_applied_twice",
            "tanh is applied to a_next again in the derivative (a_next is already tanh(z): "
            "use 1 - a_next**2)", (("(1 - a_next ** 2)", "(1 - np.tanh(a_next) ** 2)"),)),
    Mistake("rnn_cell_backward", "da_next_not_multiplied",
            "da_next is not multiplied in: dz = da_next * (1 - a_next**2)",
            (("da_next * (1 - a_next ** 2)", "(1 - a_next ** 2)"),)),
    Mistake("rnn_cell_backward", "dwaa_wrong_state",
            "dW_aa is computed with a_next where a_prev belongs (dW_aa = dz a_prev^T)",
            (("dz @ a_prev.T", "dz @ a_next.T"),)),
    Mistake("rnn_backward", "next_step_gradient_not_added",
            "the gradient from the next step (da_prev of step t+1) is not added to da[:, :, t]",
            (("da[:, :, t] + da_prevt", "da[:, :, t]"),)),
    Mistake("rnn_backward", "gradients_overwritten",
            "the weight gradients are overwritten at each step instead of summed over the steps",
            (("dWax += ", "dWax = "), ("dWaa += ", "dWaa = "), ("dba += ", "dba = "))),
    Mistake("rnn_backward", "steps_walked_forward",
            "the steps are walked forwards (t = 0, 1, ...) instead of backwards from the last step",
            (("for t in reversed(range(T_x)):", "for t in range(T_x):"),)),
    Mistake("rnn_backward", "upstream_gradient_not_added",
            "the step's own upstream gradient da[:, :, t] is not added to the gradient from step t+1",
            (("da[:, :, t] + da_prevt", "da_prevt"),)),
    Mistake("lstm_cell_forward", "concat_order",
            "a_prev and xt are concatenated in the wrong order (a_prev rows come first)",
            (("np.concatenate([a_prev, xt], axis=0)", "np.concatenate([xt, a_prev], axis=0)"),)),
    Mistake("lstm_cell_forward", "forget_gate_missing", "the forget gate does not multiply c_prev",
            (("ft * c_prev + it * cct", "c_prev + it * cct"),)),
    Mistake("lstm_cell_forward", "update_gate_missing", "the update gate does not multiply the candidate",
            (("ft * c_prev + it * cct", "ft * c_prev + cct"),)),
    Mistake("lstm_cell_forward", "tanh_of_c_missing", "a_next = ot * c_next is missing the tanh of c_next",
            (("ot * np.tanh(c_next)", "ot * c_next"),)),
    Mistake("lstm_cell_forward", "gate_biases_forgotten", "the gate biases were forgotten", _GATE_BIASES),
    Mistake("lstm_cell_forward", "candidate_sigmoid",
            "the candidate cct uses sigmoid where tanh belongs",
            (("cct = np.tanh(Wc @ concat", "cct = sigmoid(Wc @ concat"),)),
    Mistake("lstm_cell_forward", "softmax_axis",
            "softmax was taken over the wrong axis (over the examples, axis 1, "
            "instead of over the classes, axis 0)", patch={"softmax": _softmax_over_examples}),
    Mistake("lstm_forward", "c0_not_zeros", "the initial cell state c0 is not zeros",
            (("c_next = np.zeros_like(a0)", "c_next = a0"),)),
    Mistake("lstm_forward", "a0_ignored",
            "the initial hidden state a0 is not used: the first step starts from zeros",
            (("a_next = a0", "a_next = np.zeros_like(a0)"),)),
    Mistake("lstm_forward", "a0_every_step",
            "the initial hidden state a0 is reused at every step instead of the previous a_next",
            (("lstm_cell_forward(x[:, :, t], a_next,", "lstm_cell_forward(x[:, :, t], a0,"),)),
    Mistake("lstm_forward", "c_not_carried",
            "the cell state is reset to zeros at every step instead of carrying the previous c_next",
            ((", c_next, parameters)", ", np.zeros_like(a0), parameters)"),)),
    Mistake("lstm_cell_backward", "dc_next_ignored",
            "dc_next (the cell-state gradient from the next step) is ignored",
            (("dc = dc_next + da_next", "dc = da_next"),)),
    Mistake("lstm_cell_backward", "forget_gate_missing_from_dc_prev",
            "the forget gate is missing from dc_prev (dc_prev = dc * ft)",
            (("dc_prev = dc * ft", "dc_prev = dc"),)),
    Mistake("lstm_cell_backward", "sigmoid_derivative_missing",
            "the sigmoid derivatives (gate * (1 - gate)) of the gates are missing",
            ((" * ot * (1 - ot)", ""), (" * it * (1 - it)", ""), (" * ft * (1 - ft)", ""))),
    Mistake("lstm_cell_backward", "output_gate_derivative_missing",
            "the sigmoid derivative of the output gate (ot * (1 - ot)) is missing from dot",
            ((" * ot * (1 - ot)", ""),)),
    Mistake("lstm_cell_backward", "tanh_derivative_of_c_missing",
            "the tanh derivative (1 - tanh(c_next)**2) is missing where da_next flows into dc",
            (("da_next * ot * (1 - tanh_c ** 2)", "da_next * ot"),)),
    Mistake("lstm_cell_backward", "candidate_tanh_derivative_missing",
            "the tanh derivative of the candidate (1 - cct**2) is missing",
            (("dc * it * (1 - cct ** 2)", "dc * it"),)),
    Mistake("lstm_cell_backward", "a_next_path_missing_from_dc",
            "the gradient through a_next is missing from dc "
            "(dc = dc_next + da_next * ot * (1 - tanh(c_next)**2))",
            (("dc = dc_next + da_next * ot * (1 - tanh_c ** 2)", "dc = dc_next"),)),
    Mistake("lstm_cell_backward", "gates_use_dc_next",
            "the gradients of the forget gate, update gate and candidate use dc_next alone "
            "where dc (dc_next plus the gradient through a_next) belongs",
            (("dcct = dc * it", "dcct = dc_next * it"), ("dit = dc * cct", "dit = dc_next * cct"),
             ("dft = dc * c_prev", "dft = dc_next * c_prev"))),
    Mistake("lstm_cell_backward", "concat_order",
            "a_prev and xt are concatenated in the wrong order in the weight gradients "
            "(dW = dgate [a_prev; xt]^T, the a_prev rows first)",
            (("concat = np.concatenate([a_prev, xt], axis=0)",
              "concat = np.concatenate([xt, a_prev], axis=0)"),)),
    Mistake("lstm_backward", "next_step_gradient_not_added",
            "the gradient from the next step (da_prev of step t+1) is not added to da[:, :, t]",
            (("da[:, :, t] + da_prevt", "da[:, :, t]"),)),
    Mistake("lstm_backward", "cell_gradient_not_carried",
            "the cell-state gradient dc_prev is not carried back to the previous step",
            (('dc_prevt = grads["dc_prev"]', "dc_prevt = dc_prevt"),)),
    Mistake("lstm_backward", "gradients_overwritten",
            "the weight gradients are overwritten at each step instead of summed over the steps",
            (("gradients[key] += grads[key]", "gradients[key] = grads[key]"),)),
    Mistake("lstm_backward", "steps_walked_forward",
            "the steps are walked forwards (t = 0, 1, ...) instead of backwards from the last step",
            (("for t in reversed(range(T_x)):", "for t in range(T_x):"),)),
    Mistake("lstm_backward", "upstream_gradient_not_added",
            "the step's own upstream gradient da[:, :, t] is not added to the gradient from step t+1",
            (("da[:, :, t] + da_prevt", "da_prevt"),)),
)


PAIR = "+"
"""Joins the labels of two mistakes made together (``"a0_every_step+c_not_carried"``)."""


def for_function(fn):
    return [m for m in MISTAKES if m.fn == fn]


def by_label(fn, label):
    """The catalogued mistake of ``fn`` called ``label``, or the combination a label of two names."""
    parts = label.split(PAIR)
    found = [m for part in parts for m in MISTAKES if m.fn == fn and m.label == part]
    if len(found) != len(parts):
        raise KeyError(f"{fn} has no catalogued mistake {label!r}")
    return found[0] if len(found) == 1 else combined(*found)


def combined(a, b):
    """Mistakes ``a`` and ``b`` of one function made together (both edits applied)."""
    if a.fn != b.fn:
        raise ValueError(f"{a.label} and {b.label} are mistakes of different functions")
    return Mistake(a.fn, f"{a.label}{PAIR}{b.label}", f"{a.message}; and {b.message}",
                   a.edits + b.edits, {**a.patch, **b.patch})


def pairs(fn):
    """Every combination of two catalogued mistakes of ``fn`` whose edits apply together."""
    ms = for_function(fn)
    src = reference.solution_sources()[fn]
    out = []
    for i, a in enumerate(ms):
        for b in ms[i + 1:]:
            if a.patch and b.patch:
                continue
            if applies(combined(a, b), src):
                out.append(combined(a, b))
    return out


def applies(mistake, src):
    """True when every edit of ``mistake`` finds its text in ``src`` (applied in order)."""
    for old, new in mistake.edits:
        if old not in src:
            return False
        src = src.replace(old, new)
    return True


def variant(mistake, sources=None):
    """The reference module with ``mistake`` applied to its function's source."""
    sources = dict(sources or reference.solution_sources())
    src = sources[mistake.fn]
    for old, new in mistake.edits:
        if old not in src:
            raise ValueError(f"mistake {mistake.label!r}: {old!r} is not in the reference "
                             f"{mistake.fn}; update rnncourse/content/mistakes.py")
        src = src.replace(old, new)
    sources[mistake.fn] = src
    return reference.build(sources, name=f"variant_{mistake.fn}_{mistake.label}",
                           patch=mistake.patch)
