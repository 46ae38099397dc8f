"""The registry of symbolic results for the report (paper_checks.md): T1-T9 formalise the paper's
theory, T10-T12 are the toolkit's extension (docs/theory.md section 6), reported by their own stage."""

from __future__ import annotations

from functools import lru_cache

from theory.checks import CheckResult, outcome
from theory.symbolic.bias import t6_crossover
from theory.symbolic.core import Derivation
from theory.symbolic.diagnostics import t10_plugin_limit, t11_replicate_lambda, t12_tests
from theory.symbolic.estimators import t1_bp, t2_sg, t3_dominance, t4_separation, t5_no_gain_without_A
from theory.symbolic.mixture import t7_mixture, t8_plugin
from theory.symbolic.pooling import t9_pooling

DERIVATIONS = {
    "T1": t1_bp,
    "T2": t2_sg,
    "T3": t3_dominance,
    "T4": t4_separation,
    "T5": t5_no_gain_without_A,
    "T6": t6_crossover,
    "T7": t7_mixture,
    "T8": t8_plugin,
    "T9": t9_pooling,
}

# the toolkit's extension: diagnosing A and B from a batch (docs/theory.md section 6)
EXTENSION = {
    "T10": t10_plugin_limit,
    "T11": t11_replicate_lambda,
    "T12": t12_tests,
}


# where each result is drawn (figures/ names)
FIGURES = {
    "T3": "t3_gap_vs_alignment",
    "T4": "ratio_vs_d_noisy",
    "T6": "t67_mse_vs_n",
    "T7": "t7_mse_vs_lambda",
    "T8": "t8_adaptive_lambda",
    "T9": "t9_ratio_vs_K",
}
EXTENSION_FIGURES = {"T11": "t10_t12_diagnosis", "T12": "t10_t12_diagnosis"}


def derivation(result_id: str) -> Derivation:
    """The derivation of one result, "T1" .. "T12" (derived anew at each call)."""
    found = DERIVATIONS.get(result_id) or EXTENSION.get(result_id)
    if found is None:
        raise ValueError(f"result id must be one of {', '.join([*DERIVATIONS, *EXTENSION])}, got {result_id!r}")
    return found()


@lru_cache(maxsize=None)
def derivations() -> tuple[Derivation, ...]:
    return tuple(derivation(key) for key in DERIVATIONS)


def _numbers(d: Derivation) -> str:
    tally = f"{sum(d.checks.values())}/{len(d.checks)} exact identities hold"
    if d.failed_checks:
        tally += " (failed: " + "; ".join(d.failed_checks) + ")"
    return f"{d.numbers}. {tally}"


@lru_cache(maxsize=None)
def _checks() -> tuple[CheckResult, ...]:
    return tuple(
        CheckResult(id=f"{d.id}-sym", statement=d.statement, method="symbolic", numbers=_numbers(d), status=outcome(d.passed),
                    figure=FIGURES.get(d.id))
        for d in derivations()
    )


def extension_checks() -> list[CheckResult]:
    """One CheckResult per T10..T12 (ids T10-sym, ...), the toolkit's extension."""
    return [CheckResult(id=f"{d.id}-sym", statement=d.statement, method="symbolic", numbers=_numbers(d),
                        status=outcome(d.passed), figure=EXTENSION_FIGURES.get(d.id))
            for d in (derivation(key) for key in EXTENSION)]


def symbolic_checks() -> list[CheckResult]:
    """One CheckResult per T1..T9 (ids T1-sym .. T9-sym); its status is the outcome of the exact identities."""
    return list(_checks())


def latex(result_id: str) -> str:
    """The LaTeX form of a result (math mode content, without delimiters)."""
    return derivation(result_id).latex
