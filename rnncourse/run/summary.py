"""What one grading run did (:class:`Summary`), as ``make grade`` prints it."""

from dataclasses import dataclass, field


@dataclass
class Summary:
    """What a run did.

    Attributes
    ----------
    graded : list of str
        Students graded and recorded in this run.
    failed : dict
        student -> reason, for submissions that could not be graded fully
        (recorded with the scores they earned, and the reason).
    retry : dict
        student -> reason, for failures of the grading machinery (nothing
        recorded; the next run grades them).
    skipped : list of str
        Already graded and unchanged.
    flagged : dict
        student -> list of warnings (possible tampering).
    seconds : float
        Wall time of the run.
    workers : int
    mode : str
        ``"local"`` or the scheduler address.
    confined : bool
    """

    graded: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)
    retry: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    flagged: dict = field(default_factory=dict)
    seconds: float = 0.0
    workers: int = 0
    mode: str = "local"
    confined: bool = True
    timings: dict = field(default_factory=dict)

    @property
    def ok(self):
        return not self.retry

    def text(self):
        n = len(self.graded) + len(self.failed) + len(self.retry)
        rate = n / self.seconds * 60 if self.seconds > 0 and n else 0.0
        lines = [f"graded {len(self.graded)}, failed {len(self.failed)}, skipped as already graded "
                 f"{len(self.skipped)}" + (f", not recorded (retried next run) {len(self.retry)}"
                                            if self.retry else "")
                 + f" in {self.seconds:.1f} s ({rate:.1f} submissions/min, {self.workers} workers, "
                 f"{self.mode}, {'confined' if self.confined else 'UNCONFINED'})"]
        for student, why in sorted(self.failed.items()):
            lines.append(f"  FAILED  {student}: {why}")
        for student, why in sorted(self.retry.items()):
            lines.append(f"  RETRY   {student}: {why}")
        for student, flags in sorted(self.flagged.items()):
            for f in flags:
                lines.append(f"  FLAGGED {student}: {f}")
        return "\n".join(lines)
