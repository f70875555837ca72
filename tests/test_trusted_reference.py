"""rnncourse.run.trusted_reference: the reference a worker grades with, loaded once."""

from rnncourse.run import trusted_reference


def test_loaded_once_and_fingerprinted():
    data, ref = trusted_reference.load()
    again = trusted_reference.load()
    assert again[0] is data and again[1] is ref
    assert callable(ref.lstm_backward)
    digest = trusted_reference.loaded_digest()
    assert digest == trusted_reference.reference_digest() and len(digest) == 16


def test_the_fingerprint_follows_the_solutions(monkeypatch):
    from rnncourse.content import reference

    before = trusted_reference.reference_digest()
    sources = reference.solution_sources()
    changed = dict(sources, rnn_forward=sources["rnn_forward"] + "\n# changed\n")
    monkeypatch.setattr(reference, "solution_sources", lambda: changed)
    assert trusted_reference.reference_digest() != before
