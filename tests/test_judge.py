"""The judge's stand-in for the reference cell sees every honest call as the reference would.

Each variant below is a correct (or honestly wrong) student function written
in a way real students write it: keyword or mixed calls of the cell,
``functools.partial``, a helper, ``*args``/``**kwargs``, caches kept as lists,
float32 or integer arrays, a reused buffer, Fortran-ordered input, a function
that calls another of the eight. Each is graded in the kernel (stock
nbgrader's path: the reference cell itself) and through a judge (``make
grade``'s path: the stand-in); points and report text must be identical.
"""

import functools
import inspect

import numpy as np
import pytest

from rnncourse import grading
from rnncourse.client import feedback, judge_client, nested, testcases
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

HELPER = '''
def _step(x, t, a, c, parameters):
    kwargs = dict(xt=x[:, :, t], a_prev=a, c_prev=c, parameters=parameters)
    return lstm_cell_forward(**kwargs)
'''

RNN_CALL = "rnn_cell_forward(x[:, :, t], a_next, parameters)"


def variant_source(name):
    """``(function, source)`` of the variant ``name``."""
    fn, old, new = VARIANTS[name]
    src = SRC[fn]
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
