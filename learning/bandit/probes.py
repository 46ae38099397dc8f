"""Gradient-MSE probes inside the learning network (beyond the paper).

In the bandit, given the contexts, the expected policy gradient over actions and reward noise is
exact: the expected REINFORCE feedback at the logits is pi * (q - pi . q) with q_a the expected
reward of action a ((1 - p_flip) for the label, p_flip for the others), and the network is linear
in the feedback, so one backward pass of it gives the true gradient of every layer. On a probe
batch we then draw many independent actions and noisy rewards and measure, per layer, the error
of three estimators of that layer's parameter gradient:
    BP:      every layer backpropagates the sampled feedback (lambda = 1 everywhere);
    SG:      the layer's own synthetic gradient, J_l^T shat_l (lambda_l = 0);
    mixture: the estimator training uses, at the current lambdas of every layer.
Moments are per neuron (its weights, keys and biases), summed over the layer; lambda* is T7's
optimum from each neuron's measured moments (BP unbiased, SG's bias b), averaged over neurons.
MSE depends on scale, and Adam's step largely does not; so the cosine between each estimate and
the true layer gradient is reported too (for BP and the mixture, averaged over the draws), and the
root mean square of the feedback each uses at h_l (BP's delta_l, the SG's prediction shat_l).

For the optimiser's view, per layer and estimator E (BP, SG, the mixture at the adaptive lambda, the
per-neuron mixture lambda* X + (1 - lambda*) Y at T7's lambda*): the scale ratio sqrt(E|E|^2) / |g|,
the moment cosine E<E, g> / (sqrt(E|E|^2) |g|), and the MSE after the best scalar rescaling,
min_c E|c E - g|^2 = |g|^2 (1 - moment cosine^2). With the run's Adam state, the update Adam would
apply with each estimate is compared with the one it would apply with the exact gradient g: its
MSE, its mean cosine over the draws and its scale ratio (BP, SG, the adaptive mixture).
"""

from __future__ import annotations

import copy

import numpy as np

from learning.bandit.policy import expected_feedback, noisy_rewards, reinforce_feedback, sample_actions, softmax
from learning.nets.synthetic import mixed_backward
from theory.exact import optimal_lambda


def _neuron_vectors(g: dict) -> np.ndarray:
    """A routed layer's gradient {"weights", "bias"} -> (width, params per neuron), float64."""
    w = g["weights"].shape[0]
    return np.concatenate([g["weights"].reshape(w, -1), g["bias"].reshape(w, -1)], axis=1).astype(np.float64)


def _unflat(v: np.ndarray, like: dict, name: str) -> np.ndarray:
    """The weights or bias part of a (width, params per neuron) vector, shaped like like[name]."""
    nw = like["weights"][0].size
    part = v[:, :nw] if name == "weights" else v[:, nw:]
    return part.reshape(like[name].shape)


def _dot(a, b):
    return np.einsum("wp,wp->w", a, b)


def _cosine(dot, a, b) -> float:
    return float(dot / (a * b)) if a > 0 and b > 0 else 0.0


def adam_update(opt, l: int, g: dict) -> np.ndarray:
    """The step Adam (its current moments and count, not changed) would apply to layer l's weights and
    bias with gradient g, as (width, params per neuron) in float64."""
    out = []
    t = opt.t + 1
    bias1, bias2 = 1.0 - opt.beta1 ** t, 1.0 - opt.beta2 ** t
    for i, name in ((2 * l, "weights"), (2 * l + 1, "bias")):
        grad = g[name].astype(np.float64)
        m1 = opt.beta1 * opt.m1[i] + (1.0 - opt.beta1) * grad
        m2 = opt.beta2 * opt.m2[i] + (1.0 - opt.beta2) * grad * grad
        out.append((-opt.lr / bias1) * m1 / (np.sqrt(m2) / np.sqrt(bias2) + opt.eps))
    return _neuron_vectors({"weights": out[0], "bias": out[1]})


def _add_update(adam: dict, name: str, l: int, u: np.ndarray, ug: np.ndarray, ug_norm: float) -> None:
    """Accumulate one draw's Adam update u against the exact gradient's ug (norm ug_norm): squared
    error, size, cosine."""
    adam[f"se_{name}"][l] += float(np.sum((u - ug) ** 2))
    uu = float(np.sum(u * u))
    adam[f"uu_{name}"][l] += uu
    adam[f"cos_{name}"][l] += _cosine(np.sum(u * ug), np.sqrt(uu), ug_norm)


def _moment_measures(ee: float, eg: float, gg: float) -> tuple:
    """(scale ratio, moment cosine, rescaled MSE) from E|E|^2, E<E, g>, |g|^2."""
    if ee <= 0 or gg <= 0:
        return 0.0, 0.0, float(gg)
    cos = eg / np.sqrt(ee * gg)
    return float(np.sqrt(ee / gg)), float(cos), float(gg - eg * eg / ee)


def expected_gradient(net, cache, pi: np.ndarray, y: np.ndarray, p_flip: float) -> list:
    """The exact expected policy gradient of every layer given the contexts ([{"weights", "bias"}] per
    layer, then the action keys): the expected feedback at the logits pushed back once (the network
    is linear in its feedback)."""
    return net.backward(cache, expected_feedback(pi, y, p_flip).astype(net.action_keys.dtype))[0]


def probe_sparsenet(net, sg, lambdas, x, y, p_flip: float, draws: int, rng: np.random.Generator,
                    opt=None) -> list[dict]:
    """Per-layer gradient-MSE statistics on contexts x (batch, in_dim) with labels y.

    sg, lambdas: the SG predictor and the current LayerLambdas (None for a BP-only network: the SG
    and mixture fields are then None). draws: the number of independent (actions, rewards) draws.
    opt: the policy's Adam, for the update measures (None, or another optimiser: those are None).
    """
    if draws < 2:
        raise ValueError(f"probe_draws must be >= 2, got {draws}")
    logits, cache = net.forward(x)
    pi = softmax(logits)
    dtype = net.action_keys.dtype
    L = net.n_layers
    exact = expected_gradient(net, cache, pi, y, p_flip)
    G = [_neuron_vectors(exact[l]) for l in range(L)]
    with_sg = sg is not None
    if with_sg:
        preds = [sg.predict(l, cache["layers"][l]) for l in range(L)]
        Y = []
        for l, layer in enumerate(net.layers):
            lc = cache["layers"][l]
            Y.append(_neuron_vectors(layer.grads_from_feedback(lc, layer.slot_feedback(lc, net.pre_tanh(cache, l, preds[l])))))


    with_adam = opt is not None and hasattr(opt, "m1")
    if with_adam:
        UG = [adam_update(opt, l, exact[l]) for l in range(L)]
        UG_norm = [np.sqrt(np.sum(u ** 2)) for u in UG]  # once per probe, not per draw
        US = [adam_update(opt, l, {"weights": _unflat(Y[l], exact[l], "weights"), "bias": _unflat(Y[l], exact[l], "bias")})
              for l in range(L)] if with_sg else None
        adam = {k: np.zeros(L) for k in ("se_bp", "se_mix", "uu_bp", "uu_mix", "cos_bp", "cos_mix")}
    acc = {k: [np.zeros(net.width) for _ in range(L)] for k in ("se_bp", "se_mix", "xx", "xy", "xg")}
    mix_moments = {k: np.zeros(L) for k in ("zz", "zg")}
    cos = {k: np.zeros(L) for k in ("bp", "mix")}
    feedback_ms = np.zeros(L)  # mean square of BP's feedback delta_l at h_l
    g_norm = [np.sqrt(np.sum(g * g)) for g in G]
    sum_x = [np.zeros_like(g) for g in G]
    for _ in range(draws):
        actions = sample_actions(pi, rng)
        rewards = noisy_rewards(actions, y, p_flip, rng)
        d = reinforce_feedback(pi, actions, rewards).astype(dtype)
        bp, deltas = net.backward(cache, d)
        # the training step's own mixed backward (adaptive or fixed), on a copy of the lambdas, which
        # the adaptive one updates after use: the same gradient, to the bit, as training on this draw
        mixed = mixed_backward(net, sg, cache, d, copy.deepcopy(lambdas), preds=preds)[0] if with_sg else None
        for l in range(L):
            feedback_ms[l] += float(np.mean(np.square(deltas[l], dtype=np.float64)))
            X = _neuron_vectors(bp[l])
            e = X - G[l]
            acc["se_bp"][l] += _dot(e, e)
            xx = _dot(X, X)
            acc["xx"][l] += xx
            acc["xg"][l] += _dot(X, G[l])
            if with_adam:
                _add_update(adam, "bp", l, adam_update(opt, l, bp[l]), UG[l], UG_norm[l])
            cos["bp"][l] += _cosine(np.sum(X * G[l]), np.sqrt(xx.sum()), g_norm[l])
            sum_x[l] += X
            if with_sg:
                acc["xy"][l] += _dot(X, Y[l])
                Z = _neuron_vectors(mixed[l])
                ez = Z - G[l]
                acc["se_mix"][l] += _dot(ez, ez)
                zz = float(np.sum(Z * Z))
                cos["mix"][l] += _cosine(np.sum(Z * G[l]), np.sqrt(zz), g_norm[l])
                mix_moments["zz"][l] += zz
                mix_moments["zg"][l] += float(np.sum(Z * G[l]))
                if with_adam:
                    _add_update(adam, "mix", l, adam_update(opt, l, mixed[l]), UG[l], UG_norm[l])
    out = []
    K = float(draws)
    for l in range(L):
        xbar = sum_x[l] / K
        var_bp = (acc["xx"][l] / K - _dot(xbar, xbar)) * K / (K - 1)
        row = {"mse_bp": float(acc["se_bp"][l].sum() / K), "var_bp": float(var_bp.sum()),
               "cos_bp": float(cos["bp"][l] / K), "cos_sg": None, "cos_mix": None,
               "feedback_rms_bp": float(np.sqrt(feedback_ms[l] / K)), "feedback_rms_sg": None,
               "mse_sg": None, "mse_mix": None, "bias_sq_sg": None, "var_sg": None, "cov": None,
               "lambda_star": None, "lambda_star_layer": None, "lambda_adaptive": None}
        gg = float(g_norm[l] ** 2)
        row["norm_g"] = float(g_norm[l])
        for name in ("bp", "sg", "mix", "star"):
            for field in ("scale", "mcos", "mse_rescaled"):
                row[f"{field}_{name}"] = None
        row["mse_star"] = None
        row["scale_bp"], row["mcos_bp"], row["mse_rescaled_bp"] = _moment_measures(
            float(acc["xx"][l].sum() / K), float(acc["xg"][l].sum() / K), gg)
        for name in ("bp", "sg", "mix"):
            for field in ("mse", "cos", "scale"):
                row[f"adam_{field}_{name}"] = None
        if with_adam:
            ug = float(np.sum(UG[l] ** 2))
            row.update(adam_mse_bp=float(adam["se_bp"][l] / K), adam_cos_bp=float(adam["cos_bp"][l] / K),
                       adam_scale_bp=float(np.sqrt(adam["uu_bp"][l] / K / ug)) if ug > 0 else 0.0)
        if with_sg:
            b = Y[l] - G[l]
            bias_sq = _dot(b, b)
            var_sg = np.zeros(net.width)  # the SG gradient is a function of the contexts alone
            cov = (acc["xy"][l] / K - _dot(xbar, Y[l])) * K / (K - 1)
            row.update(mse_sg=float(bias_sq.sum()), mse_mix=float(acc["se_mix"][l].sum() / K),
                       bias_sq_sg=float(bias_sq.sum()), var_sg=float(var_sg.sum()), cov=float(cov.sum()),
                       lambda_star=float(np.mean(optimal_lambda(bias_sq, var_bp, var_sg, cov))),
                       lambda_star_layer=float(optimal_lambda(bias_sq.sum(), var_bp.sum(), 0.0, cov.sum())),
                       lambda_adaptive=float(lambdas.values[l].mean()),
                       cos_sg=_cosine(np.sum(Y[l] * G[l]), np.sqrt(np.sum(Y[l] * Y[l])), g_norm[l]),
                       cos_mix=float(cos["mix"][l] / K),
                       feedback_rms_sg=float(np.sqrt(np.mean(np.square(preds[l], dtype=np.float64)))))
            yy, yg = _dot(Y[l], Y[l]), _dot(Y[l], G[l])
            row["scale_sg"], row["mcos_sg"], row["mse_rescaled_sg"] = _moment_measures(float(yy.sum()), float(yg.sum()), gg)
            row["scale_mix"], row["mcos_mix"], row["mse_rescaled_mix"] = _moment_measures(
                float(mix_moments["zz"][l] / K), float(mix_moments["zg"][l] / K), gg)
            # the per-neuron mixture at lambda*: its moments from BP's and SG's
            lam = optimal_lambda(bias_sq, var_bp, var_sg, cov)
            xx_, xy_, xg_ = acc["xx"][l] / K, acc["xy"][l] / K, acc["xg"][l] / K
            gn = _dot(G[l], G[l])
            zz = lam * lam * xx_ + 2 * lam * (1 - lam) * xy_ + (1 - lam) ** 2 * yy
            zg = lam * xg_ + (1 - lam) * yg
            row["mse_star"] = float(np.sum(zz - 2 * zg + gn))
            row["scale_star"], row["mcos_star"], row["mse_rescaled_star"] = _moment_measures(float(zz.sum()), float(zg.sum()), gg)
            if with_adam:
                row.update(adam_mse_sg=float(np.sum((US[l] - UG[l]) ** 2)),
                           adam_cos_sg=_cosine(np.sum(US[l] * UG[l]), np.sqrt(np.sum(US[l] ** 2)), np.sqrt(ug)),
                           adam_scale_sg=float(np.sqrt(np.sum(US[l] ** 2) / ug)) if ug > 0 else 0.0,
                           adam_mse_mix=float(adam["se_mix"][l] / K), adam_cos_mix=float(adam["cos_mix"][l] / K),
                           adam_scale_mix=float(np.sqrt(adam["uu_mix"][l] / K / ug)) if ug > 0 else 0.0)
        out.append(row)
    return out
