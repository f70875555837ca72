"""Instructor tooling for the ``rnn_lstm`` course module.

The reference solutions live in one place, the master notebook
``source/rnn_lstm/rnn_lstm.ipynb``; :mod:`rnncourse.content.reference` loads them from
there. Everything else (reference arrays, hidden-test checks, mistake
diagnosis, grading) is built on that loader.
"""

FUNCTIONS = (
    "rnn_cell_forward",
    "rnn_forward",
    "rnn_cell_backward",
    "rnn_backward",
    "lstm_cell_forward",
    "lstm_forward",
    "lstm_cell_backward",
    "lstm_backward",
)

ASSIGNMENT = "rnn_lstm"
