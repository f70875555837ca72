"""rnncourse.run.tasks: the task and the result as they cross the process boundary."""

import pytest

from rnncourse.run.tasks import EXECUTE_DEFAULTS, Task, TaskResult


def test_a_task_is_completed_with_the_defaults():
    task = Task.from_dict({"student": "ada", "notebook": "{}", "execute": {"timeout": 5},
                           "limits": {"total_timeout": 20}, "confine": 0, "unknown": 1})
    assert task.student == "ada" and task.notebook == "{}"
    assert task.execute == {**EXECUTE_DEFAULTS, "timeout": 5}
    assert task.limits["total_timeout"] == 20 and task.limits["cell_timeout"] == 30.0
    assert task.confine is False and task.recheck is True and task.prestart is True
    assert task.reference_digest is None
    assert EXECUTE_DEFAULTS["timeout"] == 30  # the task's settings did not change the defaults


def test_released_files_win_over_the_students_and_names_stay_plain():
    task = Task.from_dict({"files": {"rnn_utils.py": b"released"},
                           "extra_files": {"rnn_utils.py": b"mine", "notes.txt": "text"}})
    assert task.files == {"rnn_utils.py": b"released"}
    assert task.extra_files == {"notes.txt": b"text"}  # text is sent as bytes
    for bad in ("../x.py", "sub/x.py", ".."):
        with pytest.raises(ValueError, match="plain file names only"):
            Task.from_dict({"extra_files": {bad: b""}})


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="unknown limits"):
        Task.from_dict({"limits": {"seconds": 3}})
    with pytest.raises(ValueError, match="positive"):
        Task.from_dict({"limits": {"total_timeout": 0}})


def test_task_and_result_survive_their_dicts():
    task = Task.from_dict({"student": "bo", "files": {"a.py": b"1"}, "figures": False,
                           "reference_digest": "abc"})
    assert Task.from_dict(task.to_dict()) == task
    result = TaskResult(student="bo", notebook="{}", judge={"rnn_forward": {"points": 1.0}},
                        timings={"total": 1.5}, worker="h:1")
    assert TaskResult.from_dict({**result.to_dict(), "from_a_newer_worker": 1}) == result
    assert TaskResult.from_dict({}).infra_error is None
