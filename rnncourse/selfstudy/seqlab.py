"""Train the course's own RNN and LSTM on a long-delay memory task (notebook 2's one import).

The self-study notebooks in ``notebooks/`` use this module as ``from rnncourse.selfstudy import
seqlab``. The recurrent part of each model is exactly the course's reference functions
(``rnn_forward``/``rnn_backward``, ``lstm_forward``/``lstm_backward``, loaded from the master
notebook by :func:`rnncourse.content.reference.load`); what training needs around them lives in
four modules, all of it reachable from here:

* the task, :mod:`~rnncourse.selfstudy.memory_task`: :func:`recall_task`, :func:`cue_steps`;
* the models, :mod:`~rnncourse.selfstudy.recurrent_model`: an output layer on the last hidden
  state with a softmax cross-entropy loss (:func:`output_layer`, :func:`softmax_cross_entropy`),
  a penalty on the hidden state before the answer (:meth:`Model.loss_and_gradients`),
  :func:`init_parameters`, and the measurements (:meth:`Model.gates`, :func:`gate_summary`);
* training, :mod:`~rnncourse.selfstudy.training`: :class:`Config`, :func:`data`,
  :func:`new_model`, :class:`Adam` with :func:`clip_by_global_norm`, the loop :func:`train` and
  its :class:`History`;
* the figures, :mod:`~rnncourse.selfstudy.training_plots`.

Shapes follow the course: ``x`` is ``(n_x, m, T_x)``, hidden states are
``(n_a, m, T_x)``, one column per example.
"""

from rnncourse.selfstudy.memory_task import cue_steps, recall_task
from rnncourse.selfstudy.recurrent_model import (
    Model,
    gate_summary,
    init_parameters,
    output_layer,
    softmax_cross_entropy,
)
from rnncourse.selfstudy.training import Adam, Config, History, clip_by_global_norm, data, new_model, train
from rnncourse.selfstudy.training_plots import (
    COLOURS,
    plot_gradient_norms,
    plot_learning_curves,
    plot_memory_gates,
)

__all__ = [
    "recall_task", "cue_steps",
    "output_layer", "softmax_cross_entropy", "init_parameters", "Model", "gate_summary",
    "clip_by_global_norm", "Adam", "Config", "History", "data", "new_model", "train",
    "COLOURS", "plot_learning_curves", "plot_gradient_norms", "plot_memory_gates",
]
