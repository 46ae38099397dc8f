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
"""

from __future__ import annotations

import numpy as np

from learning.synthetic import fixed_mix
from learning.policy import expected_feedback, noisy_rewards, reinforce_feedback, sample_actions, softmax
from theory.exact import optimal_lambda


def _neuron_vectors(g: dict) -> np.ndarray:
    """A routed layer's gradient {"weights", "bias"} -> (width, params per neuron), float64."""
    w = g["weights"].shape[0]
    return np.concatenate([g["weights"].reshape(w, -1), g["bias"].reshape(w, -1)], axis=1).astype(np.float64)


def _dot(a, b):
    return np.einsum("wp,wp->w", a, b)


def _cosine(dot, a, b) -> float:
    return float(dot / (a * b)) if a > 0 and b > 0 else 0.0


def probe_sparsenet(net, sg, lambdas, x, y, p_flip: float, draws: int, rng: np.random.Generator) -> list[dict]:
    """Per-layer gradient-MSE statistics on contexts x (batch, in_dim) with labels y.

    sg, lambdas: the SG predictor and the current LayerLambdas (None for a BP-only network: the SG
    and mixture fields are then None). draws: the number of independent (actions, rewards) draws.
    """
    if draws < 2:
        raise ValueError(f"probe_draws must be >= 2, got {draws}")
    logits, cache = net.forward(x)
    pi = softmax(logits)
    dtype = net.action_keys.dtype
    L = net.n_layers
    exact, _ = net.backward(cache, expected_feedback(pi, y, p_flip).astype(dtype))
    G = [_neuron_vectors(exact[l]) for l in range(L)]
    with_sg = sg is not None
    if with_sg:
        preds = [sg.predict(l, cache["layers"][l]) for l in range(L)]
        Y = []
        for l, layer in enumerate(net.layers):
            lc = cache["layers"][l]
            Y.append(_neuron_vectors(layer.grads_from_feedback(lc, layer.slot_feedback(lc, net.pre_tanh(cache, l, preds[l])))))

        mix = fixed_mix(net, cache, preds, lambdas.values)  # the training mixture, lambdas not updated

    acc = {k: [np.zeros(net.width) for _ in range(L)] for k in ("se_bp", "se_mix", "xx", "xy")}
    cos = {k: np.zeros(L) for k in ("bp", "mix")}
    feedback_ms = np.zeros(L)  # mean square of BP's feedback delta_l at h_l
    g_norm = [np.sqrt(np.sum(g * g)) for g in G]
    sum_x = [np.zeros_like(g) for g in G]
    for _ in range(draws):
        actions = sample_actions(pi, rng)
        rewards = noisy_rewards(actions, y, p_flip, rng)
        d = reinforce_feedback(pi, actions, rewards).astype(dtype)
        bp, deltas = net.backward(cache, d)
        mixed = net.backward(cache, d, mix=mix)[0] if with_sg else None
        for l in range(L):
            feedback_ms[l] += float(np.mean(np.square(deltas[l], dtype=np.float64)))
            X = _neuron_vectors(bp[l])
            e = X - G[l]
            acc["se_bp"][l] += _dot(e, e)
            xx = _dot(X, X)
            acc["xx"][l] += xx
            cos["bp"][l] += _cosine(np.sum(X * G[l]), np.sqrt(xx.sum()), g_norm[l])
            sum_x[l] += X
            if with_sg:
                acc["xy"][l] += _dot(X, Y[l])
                Z = _neuron_vectors(mixed[l])
                ez = Z - G[l]
                acc["se_mix"][l] += _dot(ez, ez)
                cos["mix"][l] += _cosine(np.sum(Z * G[l]), np.sqrt(np.sum(Z * Z)), g_norm[l])
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
        out.append(row)
    return out
