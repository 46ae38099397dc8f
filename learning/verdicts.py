"""The verdicts both experiments share: the paired t test over seeds (criterion fixed in advance), the
best learning rate of a sweep, and C3.

A paired test takes one difference per seed (SG minus its baseline, same seed, same settings). With n
seeds, mean difference D and standard error SE (sample standard deviation / sqrt(n)), t = D / SE is
compared with the two-sided 5% critical value of Student's t with n - 1 degrees of freedom: PASS above
it, FAIL below minus it, INCONCLUSIVE otherwise or with fewer than 2 seeds.
"""

from __future__ import annotations

import math

import numpy as np

from theory.checks import FAIL, INCONCLUSIVE, NOT_YET, PASS, CheckResult

C3_STATEMENT = ("Experiments on contextual bandits and reinforcement learning demonstrate the potential of "
                "the theory")

# two-sided 5% critical values of Student's t, by degrees of freedom
T_CRIT_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
              2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
              2.052, 2.048, 2.045, 2.042)
T_CRIT_LARGE = 1.960  # beyond 30 degrees of freedom: the normal value, rounding t's toward PASS/FAIL


def t_critical(df: int) -> float:
    """The two-sided 5% critical value of Student's t with df degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    return T_CRIT_975[df - 1] if df <= len(T_CRIT_975) else T_CRIT_LARGE


def mean_se(rows):
    """Mean over axis 0 and its standard error (sample standard deviation / sqrt(n); 0 for a single row).

    For a list of values: two floats; for rows of curves (seeds, points): two arrays of the points.
    """
    r = np.asarray(rows, dtype=float)
    mean = r.mean(axis=0)
    se = r.std(axis=0, ddof=1) / np.sqrt(len(r)) if len(r) > 1 else np.zeros_like(mean)
    return (float(mean), float(se)) if r.ndim == 1 else (mean, se)


def paired_test(diffs) -> dict:
    """The C8 criterion on per-seed differences (SG adaptive minus BP): status, mean, se, t, critical value."""
    d = np.asarray(diffs, dtype=float)
    n = len(d)
    if n < 2:
        return {"status": INCONCLUSIVE, "n": n, "mean": float(d.mean()) if n else math.nan, "se": math.nan,
                "t": math.nan, "t_crit": math.nan}
    mean, se = mean_se(d)
    t = mean / se if se > 0 else (math.copysign(math.inf, mean) if mean != 0 else 0.0)
    crit = t_critical(n - 1)
    status = PASS if t > crit else FAIL if t < -crit else INCONCLUSIVE
    return {"status": status, "n": n, "mean": mean, "se": se, "t": t, "t_crit": crit}


def best_rate(by_rate: dict) -> float | None:
    """The rate with the largest mean area over its seeds; on a tie the smaller rate."""
    if not by_rate:
        return None
    return max(by_rate, key=lambda lr: (float(np.mean(list(by_rate[lr].values()))), -lr))


def edge_note(by_rate: dict, best: float, name: str) -> str:
    """Said when a method's best rate is the smallest or largest it was run at: its best may lie beyond."""
    if len(by_rate) < 2 or best not in (min(by_rate), max(by_rate)):
        return ""
    side, beyond = ("smallest", "below") if best == min(by_rate) else ("largest", "above")
    return f"; {name}'s best is the {side} rate run (its best may lie {beyond})"


def experiments_claim(by_id: dict) -> CheckResult:
    """C3 from its parts: the bandit (C8, E2) and the reinforcement-learning tasks (C9, E3).

    Status: FAIL if a part failed; otherwise PASS if every reproduced part passed, INCONCLUSIVE if some
    reproduced part is inconclusive; not yet reproduced if no part is. Parts not yet reproduced are
    named in the numbers.
    """
    parts = {"E2 bandit": by_id.get("C8"), "E3 RL": by_id.get("C9")}
    done = {name: row.status for name, row in parts.items() if row is not None and row.status != NOT_YET}
    text = "; ".join(f"{name}: {'C' + ('8' if name.startswith('E2') else '9')} "
                     f"{done.get(name, NOT_YET)}" for name in parts)
    if not done:
        status = NOT_YET
    elif FAIL in done.values():
        status = FAIL
    elif all(s == PASS for s in done.values()):
        status = PASS
    else:
        status = INCONCLUSIVE
    missing = [name for name in parts if name not in done]
    if missing and done:
        text += f" (status from {', '.join(done)} only)"
    return CheckResult(id="C3", statement=C3_STATEMENT, method="experiment" if done else NOT_YET,
                       numbers=text, status=status, figure="e2_reward_vs_step" if "E2 bandit" in done else None)
