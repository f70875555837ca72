"""A submitted notebook put back into the released structure with nbgrader's own
preprocessors, as ``nbgrader autograde`` does before it runs anything.

Three of them read the assignment from a :class:`rnncourse.run.gradebook.Snapshot` taken once
per run instead of querying the gradebook for every student; one checks cell metadata with
nbgrader's schema compiled once.
"""

import functools
import json
import traceback

import nbformat
from nbgrader.nbgraderformat import ValidationError
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    OverwriteCells,
    OverwriteKernelspec,
)
from nbgrader.preprocessors.base import NbGraderPreprocessor

from rnncourse.run import structure


@functools.lru_cache(maxsize=1)
def _metadata_schema():
    import jsonschema
    from nbgrader.nbgraderformat import MetadataValidator

    nbgrader_validator = MetadataValidator()
    cls = jsonschema.validators.validator_for(nbgrader_validator.schema)
    cls.check_schema(nbgrader_validator.schema)
    return nbgrader_validator, cls(nbgrader_validator.schema)


def _validate_cell_metadata(cell):
    """nbgrader's ``MetadataValidator().validate_cell(cell)``, same errors, schema compiled once."""
    import jsonschema

    if "nbgrader" not in cell.metadata:
        return
    nbgrader_validator, compiled = _metadata_schema()
    if cell.metadata["nbgrader"].get("schema_version", 0) != nbgrader_validator.schema_version:
        nbgrader_validator.validate_cell(cell)  # nbgrader's own error for a wrong schema version
        return
    error = jsonschema.exceptions.best_match(compiled.iter_errors(cell.metadata["nbgrader"]))
    if error is not None:
        raise error


class SnapshotKernelspec(OverwriteKernelspec):
    """nbgrader's ``OverwriteKernelspec``, with the kernelspec from the run's snapshot."""

    def __init__(self, snap, **kwargs):
        super().__init__(**kwargs)
        self.snap = snap

    def preprocess(self, nb, resources):
        spec = self.snap.find_notebook(resources["nbgrader"]["notebook"],
                                       resources["nbgrader"]["assignment"]).kernelspec
        if spec:
            nb.metadata["kernelspec"] = json.loads(spec)
        return nb, resources


class CompiledCheckCellMetadata(CheckCellMetadata):
    """nbgrader's check, with the schema compiled once.

    ``jsonschema.validate()`` checks the schema itself again for every cell: most of the
    coordinator's CPU on a class.
    """

    def preprocess(self, nb, resources):
        try:
            for cell in nb.cells:
                _validate_cell_metadata(cell)
        except ValidationError:
            self.log.error(traceback.format_exc())
            msg = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(msg)
            raise ValidationError(msg) from None
        return nb, resources


class SnapshotCells(OverwriteCells):
    """nbgrader's ``OverwriteCells``, with the released cells from the run's snapshot."""

    def __init__(self, snap, **kwargs):
        super().__init__(**kwargs)
        self.snap = snap

    def preprocess(self, nb, resources):
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.gradebook = self.snap
        nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)
        if self.add_missing_cells:
            nb, resources = self.add_missing_grade_cells(nb, resources)
            nb, resources = self.add_missing_task_cells(nb, resources)
        return nb, resources


class NbgraderSanitizer:
    """nbgrader's sanitizing preprocessors, reading the assignment from a snapshot, not the database.

    Parameters
    ----------
    course : rnncourse.run.gradebook.Course
    snap : rnncourse.run.gradebook.Snapshot
        The gradebook's record of the assignment, read once for the run.
    """

    def __init__(self, course, snap):
        cfg = course.config
        released = course.release_dir() / f"{course.notebook}.ipynb"
        self.released = nbformat.read(str(released), as_version=4) if released.is_file() else None
        self.steps = [ClearOutput(config=cfg), DeduplicateIds(config=cfg),
                      SnapshotKernelspec(snap, config=cfg), SnapshotCells(snap, config=cfg),
                      CompiledCheckCellMetadata(config=cfg)]
        self.course = course

    def __call__(self, nb, student):
        resources = {"nbgrader": {"student": student, "assignment": self.course.assignment,
                                  "notebook": self.course.notebook, "db_url": self.course.db_url}}
        if self.released is not None:
            # Deleted, edited, duplicated or re-labelled test and read-only cells are put back.
            nb = structure.restore(nb, self.released)
        for step in self.steps:
            if step.enabled:
                nb, resources = step.preprocess(nb, resources)
        return nb
