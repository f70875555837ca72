"""nbgrader configuration of the rnn_lstm course.

Every nbgrader command run from this folder (and every `make` target) reads it.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "rnn-lstm"
c.CourseDirectory.root = HERE

# Gradebook: SQLite beside this file by default. For PostgreSQL set
# RNNCOURSE_DB_URL, e.g. postgresql+psycopg2://USER:PASSWORD@HOST:5432/DBNAME
# (name the psycopg2 driver: SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3,
# which is not installed; keep credentials out of this file).
c.CourseDirectory.db_url = os.environ.get(
    "RNNCOURSE_DB_URL", "sqlite:///" + os.path.join(HERE, "gradebook.db"))

# Files never copied into release/, submitted/ or autograded/.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*", "*.npz", "*.npy", "*.pkl",
]

# Per-cell time limit when grading (seconds); a cell that runs past it is
# interrupted and scores 0, and grading moves on.
c.ExecutePreprocessor.timeout = 30
c.ExecutePreprocessor.interrupt_on_timeout = True

# `nbgrader validate` (and the Validate button) reports an error in ANY cell, so an
# unfinished function or a failing visible test is reported, not only graded cells.
c.Validator.validate_all = True

# What students see in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Nothing a submission outputs or writes into markdown may run in a browser (the formgrader
# shows autograded notebooks in the instructor's session, the feedback is HTML). The last
# step of autograde stores the notebook made inert (after the scores are saved, so they do
# not change), and every HTML export (generate_feedback, the formgrader's submission view)
# renders an inert copy, also of notebooks graded before. See rnncourse/sanitize/safe_notebook.py.
SAFE_OUTPUTS = "rnncourse.sanitize.safe_outputs.SafeOutputs"
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
    SAFE_OUTPUTS,
]
# The rendered copy also leaves out the hidden tests' machine-readable records (JSON data no
# renderer shows; the autograded notebook keeps them for `make report`): rnncourse/sanitize/hide_records.py.
c.HTMLExporter.preprocessors = [SAFE_OUTPUTS, "rnncourse.sanitize.hide_records.HideRecords"]
