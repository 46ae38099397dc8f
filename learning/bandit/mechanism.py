"""Whether SG's gain in the bandit comes from a better gradient estimate inside the network (beyond the paper).

The paper explains SG's faster learning by a lower gradient-estimation MSE. The probes of the stored
SG-adaptive runs (learning.bandit.probes, methods block, p_flip 0.4, 10 steps of each run, every
layer) measure, against the exact expected gradient g, the mixture at the adaptive lambda (the
estimate training applies) and BP's estimate on the same draws. Criterion (fixed before the
paper-scale runs were looked at): one row per measure; for each seed, the mixture's advantage over
BP is averaged over the probed steps and layers, and the paired t test of C8 (two-sided 5% over
seeds) gives PASS (the mixture significantly closer to g), FAIL (significantly farther) or
INCONCLUSIVE. The measures, with the advantage that is positive when the mixture is closer:
    C8-mse       MSE                                   log(MSE_BP / MSE_mix)
    C8-rmse      MSE after the best scalar rescaling    log(rMSE_BP / rMSE_mix)
    C8-cos       mean cosine with g                    cos_mix - cos_BP
    C8-adam-mse  MSE of Adam's update against the one the exact gradient gives, with the run's own
                 optimiser state                       log(MSE_BP / MSE_mix)
    C8-adam-cos  mean cosine of Adam's update with the exact gradient's      cos_mix - cos_BP

The controls (the stored `controls` and `controls-sgd` blocks) separate the estimator from the
learning rate, the SG's initial scale and the optimiser, each with C8's own criterion (the paired t
test over seeds of the difference of areas under the eval reward curve, first minus second):
    C8-lr1e-3    SG adaptive against BP, both at learning rate 1e-3
    C8-lr5e-3    SG adaptive against BP, both at 5e-3
    C8-zero      SG adaptive with the SG started at zero (5e-3) against BP (1e-3): the paper's pair
                 with the SG's initial scale the only change
    C8-sgd       SG adaptive against BP, both with plain SGD at the pilot's rates
"""

from __future__ import annotations

import math

import numpy as np

from learning.bandit.sweeps import reward_curve
from learning.bandit.train import CONTROL_DEFAULTS, DEFAULTS
from learning.tables import area_under_curve
from learning.verdicts import paired_test
from theory.checks import NOT_YET, CheckResult

MEASURES = {
    "C8-mse": ("MSE", "mse_bp", "mse_mix", "log"),
    "C8-rmse": ("MSE after the best scalar rescaling", "mse_rescaled_bp", "mse_rescaled_mix", "log"),
    "C8-cos": ("mean cosine with the expected gradient", "cos_bp", "cos_mix", "diff"),
    "C8-adam-mse": ("MSE of Adam's update against the exact gradient's", "adam_mse_bp", "adam_mse_mix", "log"),
    "C8-adam-cos": ("mean cosine of Adam's update with the exact gradient's", "adam_cos_bp", "adam_cos_mix", "diff"),
}
STATEMENT = ("Inside the bandit's SparseNet the adaptive mixture's gradient is closer to the exact expected "
             "gradient than BP's (the mechanism the paper gives for C8), by the {what}")


def advantage(row: dict, bp: str, mix: str, kind: str) -> float | None:
    """The mixture's advantage over BP in one probed layer (positive: the mixture is closer)."""
    a, b = row.get(bp), row.get(mix)
    if a is None or b is None:
        return None
    if kind == "log":
        return math.log(a / b) if a > 0 and b > 0 else None
    return b - a


def per_seed(runs: dict, bp: str, mix: str, kind: str) -> dict:
    """seed -> the mean advantage over the probed steps and layers of that seed's SG-adaptive run."""
    out = {}
    for run in runs.values():
        config = run["config"]
        if config["method"] != "sg" or config["p_flip"] != 0.4:
            continue
        values = [advantage(row, bp, mix, kind) for probe in run["result"].get("probes", []) for row in probe["layers"]]
        values = [v for v in values if v is not None]
        if values:
            out[config["seed"]] = float(np.mean(values))
    return dict(sorted(out.items()))


def median_ratio(runs: dict, field: str) -> float | None:
    values = [row[field] for run in runs.values() if run["config"]["method"] == "sg"
              for probe in run["result"].get("probes", []) for row in probe["layers"] if row.get(field) is not None]
    return float(np.median(values)) if values else None


def _shape(runs: dict) -> str:
    """What the probed runs are: steps, probes per run, layers."""
    sg = [r for r in runs.values() if r["config"]["method"] == "sg" and r["result"].get("probes")]
    steps = sorted({r["config"]["steps"] for r in sg})
    probes = sorted({len(r["result"]["probes"]) for r in sg})
    layers = sorted({r["config"]["layers"] for r in sg})
    return (f"{'/'.join(map(str, steps))} steps, probes at {'/'.join(map(str, probes))} steps x "
            f"{'/'.join(map(str, layers))} layers")


def mechanism_rows(runs: dict) -> list[CheckResult]:
    """One row per measure from the stored SG-adaptive runs at p_flip 0.4 (the methods block)."""
    rows = []
    for rid, (what, bp, mix, kind) in MEASURES.items():
        seeds = per_seed(runs, bp, mix, kind)
        statement = STATEMENT.format(what=what) + (
            " (criterion: per seed, the mixture's advantage averaged over probed steps and layers; paired t "
            "test at two-sided 5% over seeds)")
        if not seeds:
            rows.append(CheckResult(id=rid, statement=statement, method=NOT_YET, status=NOT_YET,
                                    numbers="no stored SG-adaptive run with probes at p_flip 0.4", figure=None))
            continue
        test = paired_test(list(seeds.values()))
        unit = "mean log(BP / mixture)" if kind == "log" else "mean difference mixture - BP"
        shape = _shape(runs)
        numbers = (f"{len(seeds)} seeds of SG adaptive, {shape}: {unit} "
                   f"{test['mean']:+.3g} (SE {test['se']:.2g}), t = {test['t']:.2f} against +-{test['t_crit']:.2f}")
        if kind == "log":
            numbers += f" (a ratio BP / mixture of {math.exp(test['mean']):.3g})"
        if rid == "C8-mse":
            scale = median_ratio(runs, "scale_sg")
            if scale is not None:
                numbers += (f"; median over probes of |SG term| / |g| {scale:.3g}, of sqrt(E|mixture|^2) / |g| "
                            f"{median_ratio(runs, 'scale_mix'):.3g}, of sqrt(E|BP|^2) / |g| {median_ratio(runs, 'scale_bp'):.3g}")
        rows.append(CheckResult(id=rid, statement=statement, method="experiment (probes)", numbers=numbers,
                                status=test["status"], figure="e2_probe_cosine" if "cos" in rid else "e2_probe_mse"))
    return rows


# id -> (what, first group, second group); a group is (method, lr, sg_init, optimizer), lr None: any
CONTROLS = {
    "C8-lr1e-3": ("SG adaptive and BP both at learning rate 1e-3", ("sg", 1e-3, "policy", "adam"),
                  ("bp", 1e-3, "policy", "adam")),
    "C8-lr5e-3": ("SG adaptive and BP both at learning rate 5e-3", ("sg", 5e-3, "policy", "adam"),
                  ("bp", 5e-3, "policy", "adam")),
    "C8-zero": ("SG adaptive with its SG started at zero (lr 5e-3) against BP (1e-3)", ("sg", 5e-3, "zero", "adam"),
                ("bp", 1e-3, "policy", "adam")),
    "C8-sgd": ("SG adaptive and BP both with plain SGD at the pilot's rates", ("sg", None, "policy", "sgd"),
               ("bp", None, "policy", "sgd")),
}


# the settings the paper's bandit fixes: a control or reference run has each at its default (a run of the
# parents sweep, say, at p_flip 0.4 and the same rate, belongs to no group)
PAPER_FIXED = ("parents", "lam", "lam_momentum", "layers", "width", "neuron", "slots", "first_inputs", "mlp_width",
               "batch", "sg_lr", "eval_size", "data", "classes", "dtype")


def paper_network(config: dict) -> bool:
    """Whether a run has every setting the paper fixes at its default."""
    return all(config.get(k, DEFAULTS[k]) == DEFAULTS[k] for k in PAPER_FIXED)


def _areas(runs: dict, group: tuple) -> dict:
    """seed -> area under the eval reward curve of the 1,500-step run at p_flip 0.4 in the group."""
    method, lr, init, optimizer = group
    out = {}
    for run in runs.values():
        c = run["config"]
        if (c["method"], c["sg_init"], c["optimizer"], c["p_flip"]) == (method, init, optimizer, 0.4) \
                and (lr is None or c["lr"] == lr) and c["steps"] == 1500 \
                and all(c.get(k, v) == v for k, v in CONTROL_DEFAULTS.items()) \
                and paper_network(c):  # not a run of the H1-H5 controls, nor of another sweep
            out[c["seed"]] = area_under_curve(*reward_curve(run["result"]))
    return out


def control_rows(runs: dict) -> list[CheckResult]:
    """One row per control from the stored runs (every block), with C8's criterion."""
    rows = []
    for rid, (what, first, second) in CONTROLS.items():
        a, b = _areas(runs, first), _areas(runs, second)
        statement = (f"Control of C8 (beyond the paper): {what}; the first learns faster (criterion: C8's, the paired "
                     "t test at two-sided 5% over seeds of the difference of areas under the eval reward curve)")
        rows.append(paired_area_row(rid, statement, a, b, "controls or controls-sgd", "e2_controls"))
    return rows


def paired_area_row(rid: str, statement: str, a: dict, b: dict, block: str, figure: str) -> CheckResult:
    """C8's criterion on two groups' areas by seed (first minus second), over the seeds both have."""
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        return CheckResult(id=rid, statement=statement, method=NOT_YET, status=NOT_YET, figure=None,
                           numbers=f"{len(seeds)} seed(s) with both runs stored (block {block})")
    test = paired_test([a[s] - b[s] for s in seeds])
    numbers = (f"{len(seeds)} seeds, 1,500 steps, p_flip 0.4: areas {np.mean([a[s] for s in seeds]):.3f} and "
               f"{np.mean([b[s] for s in seeds]):.3f}; difference {test['mean']:+.3f} (SE {test['se']:.2g}), "
               f"t = {test['t']:.2f} against +-{test['t_crit']:.2f}")
    return CheckResult(id=rid, statement=statement, method="experiment", numbers=numbers, status=test["status"],
                       figure=figure)
