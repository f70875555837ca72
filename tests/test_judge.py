"""The judge's stand-in for the reference cell sees every honest call as the reference would.

Each variant below is a correct (or honestly wrong) student function written
in a way real students write it: keyword or mixed calls of the cell,
``functools.partial``, a helper, ``*args``/``**kwargs``, caches kept as lists,
float32 or integer arrays, a reused buffer, Fortran-ordered input, a function
that calls another of the eight, and the cell called one example (one column)
at a time or on a few columns (:data:`COLUMNS`). Each is graded in the kernel (stock
nbgrader's path: the reference cell itself) and through a judge (``make
grade``'s path: the stand-in); points and report text must be identical.
"""

import functools
import inspect
import json
import struct

import numpy as np
import pytest

from rnncourse import grading
from rnncourse.client import feedback, judge_client, nested, testcases, wire
from rnncourse.content import reference
from rnncourse.verdicts import judge

SRC = reference.solution_sources()

# (function, old text, new text): edits of the reference solution.
VARIANTS = {
    "keyword": ("lstm_forward", "lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)",
                "lstm_cell_forward(xt=x[:, :, t], a_prev=a_next, c_prev=c_next, parameters=parameters)"),
    "keyword_reordered": ("rnn_forward", None,
                          "rnn_cell_forward(parameters=parameters, xt=x[:, :, t], a_prev=a_next)"),
    "mixed": ("lstm_forward", "lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)",
              "lstm_cell_forward(x[:, :, t], a_next, c_prev=c_next, parameters=parameters)"),
    "partial": ("lstm_forward", "lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)",
                "functools.partial(lstm_cell_forward, parameters=parameters)(x[:, :, t], a_next, c_next)"),
    "helper": ("lstm_forward", "lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)",
               "_step(x, t, a_next, c_next, parameters)"),
    "star_args": ("lstm_forward", "lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)",
                  "lstm_cell_forward(*(x[:, :, t], a_next), **{'c_prev': c_next, 'parameters': parameters})"),
    "backward_keyword": ("lstm_backward", None, None),
    "backward_list_cache": ("rnn_backward", None, None),
    "float32_input": ("lstm_forward", "n_x, m, T_x = x.shape",
                      "x = x.astype(np.float32)\n    n_x, m, T_x = x.shape"),
    "integer_state": ("lstm_forward", "c_next = np.zeros_like(a0)", "c_next = np.zeros(a0.shape, dtype=int)"),
    "fortran_input": ("rnn_forward", None, None),
    "reused_buffer": ("rnn_forward", None, None),
    "calls_another": ("lstm_cell_backward", None, None),
    "extra_parameter": ("lstm_forward", "lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)",
                        "lstm_cell_forward(x[:, :, t], a_next, c_next, {**parameters, 'step': t})"),
    "listed_input": ("rnn_forward", None, "rnn_cell_forward(x[:, :, t].tolist(), a_next, parameters)"),
    "missing_argument": ("lstm_forward", "lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)",
                         "lstm_cell_forward(x[:, :, t], a_next, parameters)"),
    "unknown_keyword": ("lstm_forward", "lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)",
                        "lstm_cell_forward(x[:, :, t], a_next, c_next, params=parameters)"),
    "twice_given": ("rnn_forward", None, "rnn_cell_forward(x[:, :, t], a_next, parameters, xt=x)"),
    "wrong_shape": ("rnn_forward", None, "rnn_cell_forward(x[:, :, t], a_next.T, parameters)"),
}

# Correct solutions that call the cell one example (one column of the batch) at a time, or on a
# few columns: (function, source). Stock nbgrader credits them all.
COLUMNS = {
    # Examples outside the time loop, x[:, i:i+1, t], per-example caches joined afterwards.
    "columns_outside": ("lstm_forward", '''
def lstm_forward(x, a0, parameters):
    n_x, m, T_x = x.shape
    n_y, n_a = parameters["Wy"].shape
    a, c, y = np.zeros((n_a, m, T_x)), np.zeros((n_a, m, T_x)), np.zeros((n_y, m, T_x))
    per_example = []
    for i in range(m):
        a_next, c_next, steps = a0[:, i:i + 1], np.zeros((n_a, 1)), []
        for t in range(T_x):
            a_next, c_next, yt, cache = lstm_cell_forward(x[:, i:i + 1, t], a_next, c_next, parameters)
            a[:, i, t], c[:, i, t], y[:, i, t] = a_next[:, 0], c_next[:, 0], yt[:, 0]
            steps.append(cache)
        per_example.append(steps)
    caches = []
    for t in range(T_x):
        parts = [per_example[i][t] for i in range(m)]
        caches.append(tuple(np.concatenate([p[j] for p in parts], axis=1) for j in range(9)) + (parameters,))
    return a, y, c, (caches, x)
'''),
    # Examples inside the time loop, 1-D slices reshaped, the state taken from the assembled array.
    "columns_inside": ("rnn_forward", '''
def rnn_forward(x, a0, parameters):
    n_x, m, T_x = x.shape
    n_y, n_a = parameters["Wya"].shape
    a, y_pred, caches = np.zeros((n_a, m, T_x)), np.zeros((n_y, m, T_x)), []
    a_prev = a0
    for t in range(T_x):
        cols = [rnn_cell_forward(x[:, i, t].reshape(-1, 1), a_prev[:, i].reshape(-1, 1), parameters)
                for i in range(m)]
        a[:, :, t] = np.hstack([col[0] for col in cols])
        y_pred[:, :, t] = np.hstack([col[1] for col in cols])
        caches.append(tuple(np.hstack([col[2][j] for col in cols]) for j in range(3)) + (parameters,))
        a_prev = a[:, :, t]
    return a, y_pred, (caches, x)
'''),
    # Examples inside the time loop, cache columns sliced, the carried gradient updated in place.
    "columns_backward": ("rnn_backward", '''
def rnn_backward(da, caches):
    cell_caches, x = caches
    parameters = cell_caches[0][3]
    n_a, m, T_x = da.shape
    dx = np.zeros((x.shape[0], m, T_x))
    dWax, dWaa = np.zeros_like(parameters["Wax"]), np.zeros_like(parameters["Waa"])
    dba = np.zeros((n_a, 1))
    da_prevt = np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        a_next, a_prev, xt, p = cell_caches[t]
        for i in range(m):
            one = (a_next[:, i:i + 1], a_prev[:, i:i + 1], xt[:, i:i + 1], p)
            grads = rnn_cell_backward(da[:, i:i + 1, t] + da_prevt[:, i:i + 1], one)
            dx[:, i, t] = grads["dxt"][:, 0]
            da_prevt[:, i] = grads["da_prev"][:, 0]
            dWax += grads["dWax"]
            dWaa += grads["dWaa"]
            dba += grads["dba"]
    return {"dx": dx, "da0": da_prevt, "dWax": dWax, "dWaa": dWaa, "dba": dba}
'''),
    # Examples outside the time loop, every array of the cache a 1-D column reshaped.
    "columns_lstm_backward": ("lstm_backward", '''
def lstm_backward(da, caches):
    cell_caches, x = caches
    n_a, m, T_x = da.shape
    n_x = x.shape[0]
    dx, da0 = np.zeros((n_x, m, T_x)), np.zeros((n_a, m))
    gradients = {key: np.zeros((n_a, n_a + n_x)) for key in ("dWf", "dWi", "dWc", "dWo")}
    gradients.update({key: np.zeros((n_a, 1)) for key in ("dbf", "dbi", "dbc", "dbo")})
    for i in range(m):
        da_prevt, dc_prevt = np.zeros((n_a, 1)), np.zeros((n_a, 1))
        for t in reversed(range(T_x)):
            cache = cell_caches[t]
            one = tuple(arr[:, i].reshape(-1, 1) for arr in cache[:-1]) + (cache[-1],)
            grads = lstm_cell_backward(da[:, i, t].reshape(-1, 1) + da_prevt, dc_prevt, one)
            dx[:, i, t] = grads["dxt"].ravel()
            da_prevt, dc_prevt = grads["da_prev"], grads["dc_prev"]
            for key in ("dWf", "dWi", "dWc", "dWo", "dbf", "dbi", "dbc", "dbo"):
                gradients[key] += grads[key]
        da0[:, i] = da_prevt.ravel()
    gradients["dx"], gradients["da0"] = dx, da0
    return gradients
'''),
    # Examples inside the time loop with np.newaxis, both states assembled column by column.
    "columns_newaxis": ("lstm_forward", '''
def lstm_forward(x, a0, parameters):
    n_x, m, T_x = x.shape
    n_y, n_a = parameters["Wy"].shape
    a, c, y = np.zeros((n_a, m, T_x)), np.zeros((n_a, m, T_x)), np.zeros((n_y, m, T_x))
    caches = []
    a_prev, c_prev = a0, np.zeros((n_a, m))
    for t in range(T_x):
        cols = []
        for i in range(m):
            cols.append(lstm_cell_forward(x[:, i, t][:, np.newaxis], a_prev[:, i, np.newaxis],
                                          c_prev[:, i][:, None], parameters))
            a[:, i, t], c[:, i, t], y[:, i, t] = cols[-1][0][:, 0], cols[-1][1][:, 0], cols[-1][2][:, 0]
        caches.append(tuple(np.hstack([col[3][j] for col in cols]) for j in range(9)) + (parameters,))
        a_prev, c_prev = a[:, :, t], c[:, :, t]
    return a, y, c, (caches, x)
'''),
    # The whole batch, and a shape check on one 1-D example whose result is never used.
    "columns_debug": ("rnn_forward", None),
    # Two examples at a time (x[:, s:s+2, t]), the carried gradient kept per pair.
    "columns_pairs": ("rnn_backward", '''
def rnn_backward(da, caches):
    cell_caches, x = caches
    parameters = cell_caches[0][3]
    n_a, m, T_x = da.shape
    dx = np.zeros((x.shape[0], m, T_x))
    dWax, dWaa = np.zeros_like(parameters["Wax"]), np.zeros_like(parameters["Waa"])
    dba = np.zeros((n_a, 1))
    da0 = np.zeros((n_a, m))
    for s in range(0, m, 2):
        cols = slice(s, s + 2)
        da_prevt = np.zeros_like(da[:, cols, 0])
        for t in reversed(range(T_x)):
            cache = cell_caches[t]
            grads = rnn_cell_backward(da[:, cols, t] + da_prevt,
                                      [arr[:, cols] for arr in cache[:3]] + [cache[3]])
            dx[:, cols, t] = grads["dxt"]
            da_prevt = grads["da_prev"]
            dWax += grads["dWax"]
            dWaa += grads["dWaa"]
            dba += grads["dba"]
        da0[:, cols] = da_prevt
    return {"dx": dx, "da0": da0, "dWax": dWax, "dWaa": dWaa, "dba": dba}
'''),
    # Examples inside the time loop by a list index (x[:, [i], t]); gradients assembled per step.
    "columns_lstm_inside": ("lstm_backward", '''
def lstm_backward(da, caches):
    cell_caches, x = caches
    n_a, m, T_x = da.shape
    n_x = x.shape[0]
    dx = np.zeros((n_x, m, T_x))
    gradients = {key: np.zeros((n_a, n_a + n_x)) for key in ("dWf", "dWi", "dWc", "dWo")}
    gradients.update({key: np.zeros((n_a, 1)) for key in ("dbf", "dbi", "dbc", "dbo")})
    da_prevt, dc_prevt = np.zeros((n_a, m)), np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        da_step, dc_step = np.zeros((n_a, m)), np.zeros((n_a, m))
        for i in range(m):
            one = [arr[:, [i]] for arr in cell_caches[t][:-1]] + [cell_caches[t][-1]]
            grads = lstm_cell_backward(da[:, [i], t] + da_prevt[:, [i]], dc_prevt[:, [i]], tuple(one))
            dx[:, [i], t] = grads["dxt"]
            da_step[:, [i]], dc_step[:, [i]] = grads["da_prev"], grads["dc_prev"]
            for key in ("dWf", "dWi", "dWc", "dWo", "dbf", "dbi", "dbc", "dbo"):
                gradients[key] += grads[key]
        da_prevt, dc_prevt = da_step, dc_step
    gradients["dx"], gradients["da0"] = dx, da_prevt
    return gradients
'''),
}
VARIANTS.update({name: (fn, None, None) for name, (fn, _) in COLUMNS.items()})

HELPER = '''
def _step(x, t, a, c, parameters):
    kwargs = dict(xt=x[:, :, t], a_prev=a, c_prev=c, parameters=parameters)
    return lstm_cell_forward(**kwargs)
'''

RNN_CALL = "rnn_cell_forward(x[:, :, t], a_next, parameters)"


def variant_source(name):
    """``(function, source)`` of the variant ``name`` (of :data:`VARIANTS` or :data:`OFF_CASE`)."""
    if name in OFF_CASE:
        fn, old, new = OFF_CASE[name]
        assert old in SRC[fn], name
        return fn, SRC[fn].replace(old, new, 1)
    fn, old, new = VARIANTS[name]
    src = SRC[fn]
    if name == "columns_debug":
        assert "    n_x, m, T_x = x.shape\n" in src
        check = "    assert rnn_cell_forward(x[:, 0, 0], a0[:, 0], parameters)[0].ndim == 2\n"
        return fn, src.replace("    n_x, m, T_x = x.shape\n", "    n_x, m, T_x = x.shape\n" + check, 1)
    if name in COLUMNS:
        return fn, COLUMNS[name][1].lstrip()
    if name in ("keyword_reordered", "twice_given", "wrong_shape", "listed_input"):
        assert RNN_CALL in src
        return fn, src.replace(RNN_CALL, new)
    if name == "backward_keyword":
        assert "lstm_cell_backward(" in src
        return fn, src.replace("lstm_cell_backward(", "_kw_cell(") + (
            "\n\ndef _kw_cell(da_next, dc_next, cache):\n"
            "    return lstm_cell_backward(cache=cache, dc_next=dc_next, da_next=da_next)\n")
    if name == "backward_list_cache":
        assert "rnn_cell_backward(" in src
        return fn, src.replace("rnn_cell_backward(", "_list_cell(") + (
            "\n\ndef _list_cell(*args):\n"
            "    *front, cache = args\n"
            "    return rnn_cell_backward(*front, list(cache))\n")
    if name == "fortran_input":
        marker = '"""\n    ### BEGIN SOLUTION'
        return fn, src.replace(marker, marker + "\n    x = np.asfortranarray(x)", 1)
    if name == "reused_buffer":
        # One xt buffer for every step: each cache holds the same array (wrong caches in both graders).
        new = src.replace(RNN_CALL, "rnn_cell_forward(_buf(x, t), a_next, parameters)")
        return fn, new + ("\n\n_BUF = {}\n\ndef _buf(x, t):\n"
                          "    b = _BUF.setdefault(x.shape[:2], np.empty(x.shape[:2]))\n"
                          "    b[...] = x[:, :, t]\n    return b\n")
    if name == "calls_another":
        head = "    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters = cache\n"
        assert head in src
        again = "    ft, it, cct, ot = lstm_cell_forward(xt, a_prev, c_prev, parameters)[3][4:8]\n"
        return fn, src.replace(head, head + again)
    assert old in src, name
    new_src = src.replace(old, new)
    if name == "helper":
        new_src += "\n" + HELPER
    return fn, new_src


def _outcome(fn, ns):
    try:
        return grading.check(fn, ns)
    except AssertionError as exc:
        return str(exc)


def graded_both_ways(fn, source, monkeypatch, capsys):
    """``(local, remote)``: (outcome, printed text, records shown) in the kernel and through a judge."""
    ns = dict(vars(reference.load()))
    ns["functools"] = functools
    exec(compile(source, "<student>", "exec"), ns)
    shown = []
    monkeypatch.setattr(grading, "show_record", shown.append)
    monkeypatch.delenv(grading.JUDGE_ENV, raising=False)
    local = (_outcome(fn, ns), capsys.readouterr().out, shown[:])
    shown.clear()
    with judge.Judge() as j:
        monkeypatch.setenv(grading.JUDGE_ENV, j.socket_path)
        remote = (_outcome(fn, ns), capsys.readouterr().out, shown[:])
        assert j.results[fn]["diagnosis"] == shown[0]  # what make grade stores
    return local, remote


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_call_style_graded_as_in_the_kernel(name, monkeypatch, capsys):
    fn, source = variant_source(name)
    local, remote = graded_both_ways(fn, source, monkeypatch, capsys)
    assert remote == local, name
    assert len(local[2]) == 1 and local[2][0]["fn"] == fn  # one record, shown apart from the text
    assert "rnncourse-diagnosis" not in str(local[0]) + local[1]
    # Honest but costly in the kernel too (float32 rounds the cached xt beyond the tolerance;
    # a list in the cache is not an array).
    honest_wrong = ("missing_argument", "unknown_keyword", "twice_given", "wrong_shape", "reused_buffer",
                    "float32_input", "listed_input")
    if name in honest_wrong:
        assert local[0] != float(testcases.POINTS[fn]), "the variant should cost points"
    else:
        assert local[0] == float(testcases.POINTS[fn]), local


# Honest functions that also call the cell on inputs outside the test case, as stock nbgrader
# allows (the reference runs on anything there): (function, old text, new text).
OFF_CASE = {
    # A shape check on random inputs (the shapes of this case): its result is only printed.
    "sanity_check": ("lstm_forward", "    n_x, m, T_x = x.shape\n",
                     "    n_x, m, T_x = x.shape\n    print(lstm_cell_forward(np.random.randn(n_x, 10), "
                     "np.random.randn(a0.shape[0], 10), np.random.randn(a0.shape[0], 10), "
                     "parameters)[0].shape)\n"),
    # The same with shapes typed in: the reference raises on the case whose shapes differ.
    "sanity_check_literal": ("lstm_forward", "    n_x, m, T_x = x.shape\n",
                             "    n_x, m, T_x = x.shape\n    print(lstm_cell_forward(np.random.randn(3, 10), "
                             "np.random.randn(5, 10), np.random.randn(5, 10), parameters)[0].shape)\n"),
    "sanity_check_backward": ("rnn_backward", "    n_x = x.shape[0]\n",
                              "    n_x = x.shape[0]\n    print(rnn_cell_backward(np.random.randn(n_a, m), "
                              "cell_caches[0])['dxt'].shape)\n"),
    # One output (c) computed from an off-case call (the state halved): partial credit.
    "one_output_off_case": ("lstm_forward", "        c[:, :, t] = c_next\n",
                            "        c[:, :, t] = lstm_cell_forward(x[:, :, t], a_next, 0.5 * c_next, "
                            "parameters)[1]\n"),
}
OFF_CASE_NOTE = "on inputs outside its test case, and those calls returned NaN"


def _points(outcome):
    return outcome if isinstance(outcome, float) else 0.0


@pytest.mark.parametrize("name", sorted(OFF_CASE))
def test_off_case_calls_score_as_in_the_kernel(name, monkeypatch, capsys):
    """Same points both ways; the judge's report says, in one line, that those calls got NaN."""
    fn, source = variant_source(name)
    local, remote = graded_both_ways(fn, source, monkeypatch, capsys)
    assert capsys.readouterr().err == ""  # stderr would zero the test cell
    assert _points(remote[0]) == _points(local[0]), (name, local, remote)
    assert remote[2][0]["outputs"] == local[2][0]["outputs"] or name == "one_output_off_case"
    text = str(remote[0]) + remote[1]
    assert text.count(OFF_CASE_NOTE) == 1 and OFF_CASE_NOTE not in str(local[0]) + local[1]
    assert text.replace(_note_line(text), "") == str(local[0]) + local[1] or name == "one_output_off_case"
    full = float(testcases.POINTS[fn])
    if name == "one_output_off_case":
        assert 0 < _points(local[0]) < full and "c" in [k for k, v in local[2][0]["outputs"].items() if v]
    elif name == "sanity_check_literal":  # the reference raises on the case of other shapes, in both
        assert "raised ValueError" in local[0] and _points(local[0]) == 0
    else:
        assert local[0] == full


def _note_line(text):
    """The note, as one line appended to the report (with its line break)."""
    (line,) = [ln for ln in text.splitlines() if OFF_CASE_NOTE in ln]
    assert "\n" + line in text
    return "\n" + line


def test_no_note_when_every_call_is_on_the_test_case(monkeypatch, capsys):
    for name in ("keyword", "columns_debug", "columns_inside", "backward_keyword"):
        fn, source = variant_source(name)
        _, remote = graded_both_ways(fn, source, monkeypatch, capsys)
        assert "NaN" not in str(remote[0]) + remote[1], name


def test_stand_in_has_the_reference_signature():
    ref = reference.load()
    for dep in testcases.DEPENDS.values():
        sig = judge.signature(getattr(ref, dep))
        assert [p[0] for p in sig] == list(testcases.ARGS[dep])
        stand_in = judge_client.make_stand_in(dep, sig, lambda values: values)
        assert inspect.signature(stand_in) == inspect.signature(getattr(ref, dep))
        assert stand_in.__name__ == stand_in.__qualname__ == dep


BAD_CALLS = [((), {}), ((1,), {}), ((1, 2, 3, 4, 5), {}), ((1, 2, 3), {"xt": 1}),
             ((1, 2, 3), {"foo": 1}), ((), {"xt": 1, "a_prev": 2, "c_prev": 3}),
             ((1, 2, 3, 4), {"parameters": 4})]


@pytest.mark.parametrize("args,kwargs", BAD_CALLS)
def test_a_wrong_call_fails_as_on_the_reference(args, kwargs):
    real = reference.load().lstm_cell_forward
    stand_in = judge_client.make_stand_in("lstm_cell_forward", judge.signature(real),
                            lambda values: pytest.fail("a wrong call reached the judge"))
    with pytest.raises(TypeError) as want:
        real(*args, **kwargs)
    with pytest.raises(TypeError) as got:
        stand_in(*args, **kwargs)
    assert str(got.value) == str(want.value)


def test_binding_sends_values_in_signature_order():
    def real(a, b=2, /, c=3, *, d, e=5):
        return None

    sent = []
    stand_in = judge_client.make_stand_in("real", judge.signature(real), sent.append)
    assert inspect.signature(stand_in) == inspect.signature(real)
    stand_in(1, d=4)
    stand_in(1, 0, e=9, d=8, c=7)
    assert sent == [[1, 2, 3, 4, 5], [1, 0, 7, 8, 9]]
    for bad in (lambda f: f(1, b=2, d=1), lambda f: f(d=1), lambda f: f(1, 2, 3, 4)):
        with pytest.raises(TypeError) as want:
            bad(real)
        with pytest.raises(TypeError) as got:
            bad(stand_in)
        assert str(got.value) == str(want.value).replace(real.__qualname__, "real")


def test_the_reference_raises_the_same_exception_through_the_judge(ref):
    with judge.Judge() as j:
        c = judge_client.JudgeClient(j.socket_path)
        x, a0, p = c.begin("rnn_forward")[0]["inputs"]
        stand_in = c.stand_in("rnn_cell_forward")
        with pytest.raises(ValueError) as want:
            ref.rnn_cell_forward(x[:, :, 0], a0.T, p)
        with pytest.raises(ValueError) as got:
            stand_in(x[:, :, 0], a0.T, p)
        assert str(got.value) == str(want.value)
        c.close()


def test_results_hold_the_callers_own_objects(ref):
    with judge.Judge() as j:
        c = judge_client.JudgeClient(j.socket_path)
        x, a0, p = c.begin("lstm_forward")[0]["inputs"]
        x = np.asfortranarray(x)
        xt, c0 = x[:, :, 0], np.zeros(a0.shape, dtype=np.int32)
        a_next, c_next, yt, cache = c.stand_in("lstm_cell_forward")(xt, a0, c0, p)
        want = ref.lstm_cell_forward(xt, a0, c0, p)
        assert cache[8] is xt and cache[2] is a0 and cache[3] is c0 and cache[9] is p
        assert cache[0] is a_next and cache[1] is c_next
        for g, w in zip(nested.nodes((a_next, c_next, yt, cache)), nested.nodes(want)):
            assert type(g) is type(w)
            if isinstance(w, np.ndarray):
                assert g.dtype == w.dtype and np.array_equal(g, w)
        c.close()


def test_tree_keeps_dtypes_and_identity():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    obj = [a, (a, np.float32([0.1, 0.2]), np.array([True, False])), {"k": np.uint8([255])}]
    spec, arrays = nested.pack(obj, keep_identity=True)
    back = nested.unpack(spec, arrays)
    assert back[0] is back[1][0] and back[0].dtype == np.int32 and np.array_equal(back[0], a)
    assert back[1][1].dtype == np.float32 and np.array_equal(back[1][1], obj[1][1])
    assert back[1][2].dtype == bool and back[2]["k"].dtype == np.uint8 and back[2]["k"][0] == 255
    spec, arrays = nested.pack(obj)  # data files: every occurrence a copy of its own
    assert len(arrays) == 5
    with pytest.raises(TypeError, match="complex"):
        nested.pack(np.array([1j]))
    with pytest.raises(TypeError, match="2\\*\\*53"):
        nested.pack(np.array([2 ** 53 + 1], dtype=np.int64))
    shared = nested.nodes(obj)
    spec, arrays = nested.pack({"back": obj[2]}, shared)
    assert nested.unpack(spec, arrays, shared)["back"] is obj[2]


def test_the_record_is_shown_only_under_ipython(capsys):
    feedback.show_record({"fn": "rnn_forward", "v": 1, "outputs": {}})  # plain Python: nothing
    assert capsys.readouterr() == ("", "")


# ---------------------------------------------------------------- the reference cell on columns
def test_the_cell_answers_columns_of_the_test_inputs(ref):
    """One example, a few examples in any order, 1-D columns, states assembled from results."""
    with judge.Judge(ref=ref) as j:
        c = judge_client.JudgeClient(j.socket_path)
        x, a0, p = c.begin("lstm_forward")[0]["inputs"]
        cell = c.stand_in("lstm_cell_forward")
        n_a, m = a0.shape
        whole = ref.lstm_cell_forward(x[:, :, 0], a0, np.zeros_like(a0), p)
        for i in (0, m - 1):
            for xt, a, cp in ((x[:, i:i + 1, 0], a0[:, i:i + 1], np.zeros((n_a, 1))),
                              (x[:, i, 0][:, np.newaxis], a0[:, i].reshape(-1, 1), np.zeros((n_a, 1), int)),
                              (x[:, [i], 0].astype(np.float32), a0[:, [i]], np.zeros((n_a, 1)))):
                got = cell(xt, a, cp, p)
                assert np.allclose(got[0][:, 0], whole[0][:, i], rtol=1e-6, atol=0)  # float32 xt too
        cols = [3, 1]
        a1, c1, _, _ = cell(x[:, cols, 0], a0[:, cols], np.zeros((n_a, 2)), p)
        a2 = cell(x[:, cols, 1], a1, c1, p)[0]  # the next step, from what came back
        assert np.allclose(a2, ref.lstm_cell_forward(x[:, :, 1], whole[0], whole[1], p)[0][:, cols])
        assembled = np.hstack([a1[:, 1:], a1[:, :1]])  # examples 1, 3
        cell(x[:, 1:2, 1], assembled[:, :1], c1[:, 1], p)
        got = cell(x[:, 0, 0], a0[:, 0], np.zeros(n_a), p)  # 1-D: what the reference makes of it
        want = ref.lstm_cell_forward(x[:, 0, 0], a0[:, 0], np.zeros(n_a), p)
        assert all(g.shape == w.shape and np.array_equal(g, w) for g, w in zip(got[:3], want[:3]))
        c.close()


def _refused(call, args, match):
    with pytest.raises(judge_client.JudgeError, match=match):
        call(*args)


def _withheld(call, args):
    """Call the stand-in off the test case: the answer holds NaN wherever the reference computed a value."""
    got = call(*args)
    own = {id(o) for o in nested.nodes(list(args))}
    computed = [v for v in nested.nodes(got) if isinstance(v, np.ndarray) and id(v) not in own]
    assert computed and all(v.dtype.kind == "f" and np.isnan(v).all() for v in computed)
    return got


def test_the_cell_withholds_what_no_column_of_the_test_case_gives(ref):
    """Out-of-slice inputs (a column changed, another example's state, a free or crafted state): NaN."""
    from rnncourse.content import refdata

    data = refdata.load()
    xt_c, a_c, p_c = data["rnn_cell_forward"][0]["inputs"]
    with judge.Judge(ref=ref, data=data) as j:
        c = judge_client.JudgeClient(j.socket_path)
        x, a0, p = c.begin("rnn_forward")[0]["inputs"]
        cell = c.stand_in("rnn_cell_forward")
        n_a = a0.shape[0]
        changed = x[:, 0:1, 0].copy()
        changed[1, 0] += 1e-9
        crafted = a_c[:, :1] + np.linalg.solve(p["Waa"], p["Wax"] @ (xt_c[:, :1] - x[:, 0:1, 0]))
        assert np.allclose(ref.rnn_cell_forward(x[:, 0:1, 0], crafted, p)[0],
                           data["rnn_cell_forward"][0]["expected"]["a_next"][:, :1])
        for args in ((changed, a0[:, 0:1], p),  # not a column of x
                     (x[:, 0:1, 0], a0[:, 0:1], {**p, "ba": p["ba"] + 1e-9}),
                     (x[::-1, 0:1, 0], a0[:, 0:1], p)):  # a column upside down
            _withheld(cell, args)
        with pytest.raises(ValueError, match="matmul"):  # the reference's own error, whatever the values
            cell(x[:, 0:1, 0].T, np.ones((1, n_a)), p)
        for args in ((x[:, 0:1, 0], a0[:, 1:2], p),  # another example's state
                     (x[:, 0:1, 0], np.ones((n_a, 1)), p),  # a free state
                     (x[:, 0:1, 0], crafted, p),  # the cell's own test answer, by solving for a_prev
                     (x[:, 0:2, 0], np.hstack([a0[:, :1], crafted]), p)):  # one column of two
            _withheld(cell, args)
        a1 = cell(x[:, 2:3, 0], a0[:, 2:3], p)[0]
        _withheld(cell, (x[:, 3:4, 1], a1, p))  # example 2's state for example 3
        assert np.isfinite(cell(x[:, 2:3, 1], a1, p)[0]).all()  # the chain goes on with values
        c.close()
        c = judge_client.JudgeClient(j.socket_path)
        da, caches = c.begin("lstm_backward")[0]["inputs"]
        cell = c.stand_in("lstm_cell_backward")
        T = da.shape[-1]
        cache = caches[0][T - 1]

        def column(i, t=T - 1):
            return tuple(arr[:, i:i + 1] for arr in caches[0][t][:-1]) + (caches[0][t][-1],)

        z = np.zeros((n_a, 1))
        mixed = (cache[0][:, :1],) + tuple(arr[:, 1:2] for arr in cache[1:-1]) + (cache[-1],)
        _withheld(cell, (da[:, 0:1, T - 1], z, mixed))  # one cache's columns of two examples
        _withheld(cell, (da[:, 1:2, T - 1], z, column(0)))  # another example's gradient
        _withheld(cell, (da[:, 0:1, T - 1] * 1.5, z, column(0)))
        g = cell(da[:, 0:1, T - 1], z, column(0))
        g2 = cell(da[:, 0:1, T - 2] + g["da_prev"], g["dc_prev"], column(0, T - 2))
        assert np.isfinite(g2["dxt"]).all()  # the chain goes on with values
        _withheld(cell, (da[:, 1:2, T - 2] + g["da_prev"], g["dc_prev"], column(1, T - 2)))
        c.close()
    assert any("no sequence pass reaches" in e for e in j.events)
    assert any("outside the test inputs" in e for e in j.events)


def test_finite_differences_of_the_reference_cell_get_only_nan(ref):
    """The attack the rule stops: differentiate the reference cell numerically while rnn_forward is
    checked, to pass rnn_cell_backward without writing it. Every perturbed call is answered (as a
    well-formed call), with NaN alone: no value the reference computed reaches the kernel."""
    from rnncourse.content import refdata

    data = refdata.load()
    with judge.Judge(ref=ref, data=data) as j:
        c = judge_client.JudgeClient(j.socket_path)
        x, a0, p = c.begin("rnn_forward")[0]["inputs"]
        cell = c.stand_in("rnn_cell_forward")
        xt, h = x[:, :, 0], 1e-6
        assert np.isfinite(cell(xt, a0, p)[0]).all()  # on the test case: values
        for k in range(3):
            for arr, put in ((xt, lambda v: (v, a0, p)), (a0, lambda v: (xt, v, p)),
                             (p["Waa"], lambda v: (xt, a0, {**p, "Waa": v}))):
                plus, minus = arr.copy(), arr.copy()
                plus.flat[k] += h
                minus.flat[k] -= h
                up, down = _withheld(cell, put(plus)), _withheld(cell, put(minus))
                assert np.isnan((up[0] - down[0]) / (2 * h)).all()
        # On the wire too: the reply names the caller's own objects, or carries NaN alone.
        reply, out = j.handle({"op": "ref", "fn": "rnn_cell_forward"}, [xt + h, a0, p])
        assert reply == {"ok": True}
        own = {id(o) for o in out.shared}
        sent = [v for v in nested.nodes(out.payload) if isinstance(v, np.ndarray) and id(v) not in own]
        assert sent and all(np.isnan(v).all() for v in sent)
        spec, arrays = nested.pack(out.payload, out.shared, keep_identity=True)
        assert all(np.isnan(a).all() for a in arrays)
        c.close()
    # Noted for the instructor once per kind of call and function, however many there were.
    assert [e for e in j.events if "answered with NaN" in e] == [
        "reference rnn_cell_forward called on arguments outside the test inputs: answered with NaN",
        "reference rnn_cell_forward called with a state or gradient no sequence pass reaches: "
        "answered with NaN"]
    assert j._off_case_calls == 19


def test_withheld_keeps_the_structure_and_no_value():
    from rnncourse.verdicts import reachable

    own = np.arange(4.0)
    params = {"W": np.ones((2, 2))}
    buf = np.arange(12.0).reshape(6, 2)
    result = ({"dxt": buf[:2], "da_prev": buf[2:], "n": np.arange(3), "ok": np.array([True])},
              np.float32([1.5, 2.5]), np.asfortranarray(np.ones((2, 3))), (own, params, 3, 2.0, None))
    got = reachable.withheld(result, nested.nodes([own, params]))
    grads, f32, fort, cache = got
    assert type(got) is tuple and set(grads) == set(result[0])
    assert grads["dxt"].base is grads["da_prev"].base is not None and grads["da_prev"].shape == (4, 2)
    assert grads["n"].dtype == np.float64 and grads["ok"].shape == (1,)  # integers and bools: float NaN
    assert f32.dtype == np.float32 and fort.flags.f_contiguous
    assert cache[0] is own and cache[1] is params and np.isnan(cache[2]) and np.isnan(cache[3])
    assert cache[4] is None
    assert all(np.isnan(v).all() for v in nested.nodes(got) if isinstance(v, np.ndarray) and v is not own
               and v is not params["W"])
    assert np.array_equal(buf, np.arange(12.0).reshape(6, 2))  # the result itself is left alone


def test_a_loop_over_examples_fits_the_call_budget_and_no_more(ref):
    from rnncourse.content import refdata

    data = refdata.load()
    per_example = sum(case["inputs"][0].shape[1] * case["inputs"][0].shape[2] for case in data["rnn_forward"])
    with judge.Judge(ref=ref, data=data) as j:
        c = judge_client.JudgeClient(j.socket_path)
        x, a0, p = c.begin("rnn_forward")[0]["inputs"]
        cell = c.stand_in("rnn_cell_forward")
        for _ in range(judge.ORACLE_FACTOR * per_example + 2):
            cell(x[:, :1, 0], a0[:, :1], p)
        _refused(cell, (x[:, :1, 0], a0[:, :1], p), "too many")
        c.close()


# ---------------------------------------------------------------- views of one buffer
def _layout(a):
    base = None if a.base is None else (a.base.shape, a.ctypes.data - a.base.ctypes.data)
    return (a.dtype, a.shape, a.strides, a.flags.owndata, a.flags.writeable, a.flags.c_contiguous, base)


def test_views_of_one_buffer_come_back_sharing_it(ref):
    """``da_prev`` and ``dxt`` are two slices of one array in the reference: through the judge too."""
    with judge.Judge(ref=ref) as j:
        c = judge_client.JudgeClient(j.socket_path)
        da, caches = c.begin("lstm_backward")[0]["inputs"]
        T = da.shape[-1]
        args = (da[:, :, T - 1], np.zeros(da.shape[:2]), caches[0][T - 1])
        got, want = c.stand_in("lstm_cell_backward")(*args), ref.lstm_cell_backward(*args)
        assert want["dxt"].base is want["da_prev"].base is not None  # the kernel's own layout
        assert got["dxt"].base is got["da_prev"].base is not None
        for k in want:
            assert _layout(got[k]) == _layout(want[k]) and np.array_equal(got[k], want[k]), k
        for grads in (got, want):  # writing through the shared buffer reaches both, as in the kernel
            grads["dxt"].base[...] = 7
            assert (grads["da_prev"] == 7).all()
        c.close()


def _body(header, *arrays):
    head = json.dumps(header).encode()
    return struct.pack(">I", len(head)) + head + b"".join(np.ascontiguousarray(a, "<f8").tobytes()
                                                         for a in arrays)


def test_views_travel_only_from_the_judge_and_only_inside_their_base():
    buf = np.arange(12.0).reshape(4, 3).copy()
    rest = buf[1:]
    message = wire.encode({"op": "x"}, {"a": buf[:1], "b": rest, "c": rest, "d": buf[1:]}, views=True)[12:]
    with pytest.raises(wire.ProtocolError, match="views are not accepted"):
        wire.decode(message)  # what the judge reads from the kernel
    _, back = wire.decode(message, views=True)
    assert back["a"].base is back["b"].base is back["d"].base and back["a"].base.shape == (4, 3)
    assert back["b"] is back["c"] and back["d"] is not back["b"]  # one object each, as sent
    assert np.array_equal(back["b"], buf[1:]) and wire.encode({}, [buf[1:]])[12:].count(b'"V"') == 0
    inside = {"spec": {"V": [0, {"a": 0}, 6, [2, 3], [3, 1]]}, "dims": [[12]]}
    assert np.array_equal(wire.decode(_body(inside, np.arange(12.0)), views=True)[1], buf[2:])
    for offset, shape, strides in ((7, [2, 3], [3, 1]), (0, [2, 3], [-3, 1]), (-1, [1], [1]),
                                   (0, [13], [1]), (11, [2], [1]), (0, [2, 2], [6, 0.5])):
        forged = {"spec": {"V": [0, {"a": 0}, offset, shape, strides]}, "dims": [[12]]}
        with pytest.raises(wire.ProtocolError):
            wire.decode(_body(forged, np.arange(12.0)), views=True)
    for node in ({"x": 0}, {"t": []}, {"V": [1, {"a": 0}, 0, [1], [1]]}):
        forged = {"spec": {"V": [0, node, 0, [1], [1]]}, "dims": [[12]]}
        with pytest.raises(wire.ProtocolError):
            wire.decode(_body(forged, np.arange(12.0)), views=True, shared=[buf])
