"""One verified statement: what the report (paper_checks.md) shows for each result."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    """id: 'T1'..'T9' (this toolkit's formalisation) or 'C1'.. (a claim of the paper).

    method: 'symbolic', 'exact' or 'Monte Carlo'; numbers: what was compared, readable;
    figure: the figure the result appears in, if any.
    """

    id: str
    statement: str
    method: str
    numbers: str
    passed: bool
    figure: str | None = None
