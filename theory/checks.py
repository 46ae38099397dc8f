"""One verified statement: what the report (paper_checks.md) shows for each result."""

from __future__ import annotations

from dataclasses import dataclass

PASS = "PASS"
FAIL = "FAIL"
INCONCLUSIVE = "INCONCLUSIVE"
NOT_YET = "not yet reproduced"
STATUSES = (PASS, FAIL, INCONCLUSIVE, NOT_YET)


def outcome(ok: bool) -> str:
    """The status of a check whose criterion has two outcomes."""
    return PASS if ok else FAIL


@dataclass(frozen=True)
class CheckResult:
    """id: unique in a report; 'T..' for this toolkit's formalisation, 'C..' for a claim of the paper.

    method: 'symbolic', 'exact', 'Monte Carlo', 'experiment' ...; numbers: what was compared, readable;
    status: one of STATUSES, decided by a criterion fixed before the run;
    figure: the figure the result appears in, if any.
    """

    id: str
    statement: str
    method: str
    numbers: str
    status: str
    figure: str | None = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")

    @property
    def passed(self) -> bool:
        return self.status == PASS
