"""A plain vectorised numpy implementation of the same estimators, one trial at a time.

The style of the authors' simulation (docs/experiments.md E1): per trial, draw the feedback samples
of all states at once and average them, fit the cell tables with bincount, form the gradients
with einsum. It serves as the engine's speed baseline (montecarlo.bench) and, fed the engine's
own random numbers, as an independent check of its arithmetic (tests/test_mc_engine.py).

per_sample selects how the adaptive weight's per-sample sums are taken: "gram" through
X_r X_r^T (as fast as numpy gets it), "vectors" by materialising every per-sample
contribution w_i, u_i on its block (the definition, slower).
"""

from __future__ import annotations

import numpy as np

from theory.exact import exact_mse
from theory.feedback import FeedbackModel
from theory.instance import ExpertInstance


def reference_trials(inst: ExpertInstance, fb: FeedbackModel, n: int, trials: int, seed: int = 0,
                     lam: float | None = None, common: np.ndarray | None = None,
                     draws=None, per_sample: str = "gram") -> np.ndarray:
    """Per-trial (s_bp, s_sg, s_x, s_fixed, s_adapt, lambda_hat), shape (trials, 6).

    draws: optional callable t -> the raw draws of trial t, shape (R, n, 1 if fb.shared else m)
    (standard normals, or uniforms for the activation case); default numpy's default_rng(seed).
    """
    if per_sample not in ("gram", "vectors"):
        raise ValueError(f"per_sample must be gram or vectors, got {per_sample!r}")
    if lam is None:
        lam = exact_mse(inst, fb, n, common=common).lambda_star
    R, m, d = inst.R, inst.m, inst.d
    x = inst.contributions()
    cm = np.zeros((R, m, 0)) if common is None else np.asarray(common, dtype=np.float64)
    fbar = inst.clean_feedback(fb.rho)
    nkeys = 2**inst.k
    keys = inst.cells() + nkeys * np.arange(m)  # one bincount for all experts
    inv_counts = inst.inverse_cell_counts().ravel()
    grad = np.concatenate([np.einsum("rjd,rj->rd", x, fbar).ravel(), np.einsum("rjq,rj->q", cm, fbar)])
    gram = np.einsum("rjd,rkd->rjk", x, x) + np.einsum("rjq,rkq->rjk", cm, cm)
    shape = (R, n, 1 if fb.shared else m)
    rng = np.random.default_rng(seed)
    big_n = R * n
    out = np.empty((trials, 6))
    for t in range(trials):
        if draws is not None:
            z = np.asarray(draws(t)).reshape(shape)
        elif fb.case == "activation":
            z = rng.random(shape)
        else:
            z = rng.standard_normal(shape)
        if fb.case == "noisy":
            dev = np.broadcast_to(fb.sigma * z, (R, n, m))
        elif fb.case == "activation":
            dev = fbar[:, None, :] * (np.where(z < fb.p, 1.0 / fb.p, 0.0) - 1.0)
        else:
            dev = -fb.tau * z * inst.alpha
        nu = dev.mean(axis=1)
        table = np.bincount(keys.ravel(), weights=(fbar + nu).ravel(), minlength=m * nkeys) * inv_counts
        eta = table[keys] - fbar
        e_bp = np.concatenate([np.einsum("rjd,rj->rd", x, nu).ravel(), np.einsum("rjq,rj->q", cm, nu)])
        e_sg = np.concatenate([np.einsum("rjd,rj->rd", x, eta).ravel(), np.einsum("rjq,rj->q", cm, eta)])
        e_mix = lam * e_bp + (1.0 - lam) * e_sg
        s_bp, s_sg, s_x = e_bp @ e_bp, e_sg @ e_sg, e_bp @ e_sg
        ubar = e_sg - e_bp
        wbar = grad + e_bp
        f = fbar[:, None, :] + dev  # (R, n, m)
        a = eta[:, None, :] - dev  # shat - f_i
        if per_sample == "vectors":
            u_priv = R * np.einsum("rjd,rij->rid", x, a)
            w_priv = R * np.einsum("rjd,rij->rid", x, f)
            u_com = R * np.einsum("rjq,rij->riq", cm, a)
            w_com = R * np.einsum("rjq,rij->riq", cm, f)
            uu = np.sum(u_priv**2) + np.sum(u_com**2)
            wu = np.sum(w_priv * u_priv) + np.sum(w_com * u_com)
        else:
            ga = np.matmul(a, gram)  # (R, n, m): a_i^T G_r
            uu = R * R * np.sum(ga * a)
            wu = R * R * np.sum(ga * f)
        v = max((uu - big_n * (ubar @ ubar)) / ((big_n - 1) * big_n), 0.0)
        c = (wu - big_n * (wbar @ ubar)) / ((big_n - 1) * big_n)
        b2 = max(ubar @ ubar - v, 0.0)
        lam_hat = 1.0 if v + b2 <= 0.0 else min(max(1.0 + c / (v + b2), 0.0), 1.0)
        e_ad = lam_hat * e_bp + (1.0 - lam_hat) * e_sg
        out[t] = (s_bp, s_sg, s_x, e_mix @ e_mix, e_ad @ e_ad, lam_hat)
    return out
