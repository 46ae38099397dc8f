"""What the policy and its layers look like at each evaluation (the mechanism controls' measures).

Measured on a fixed set of test images (the first MEASURE_SIZE), with no random draw, so that
measuring leaves every number of the training where it was:
    entropy       mean over the images of the policy's entropy (nats; log 9 = 2.197 is uniform);
    modal_share   share of the images whose most likely action is the most common such action
                  (1/9 for a policy spread evenly over the digits, 1 for one that has locked onto one);
    layers        per hidden layer, "moved": |W_l - W_l(0)| / |W_l(0)| over the layer's weights and
                  biases together, and "rms": the root mean square of the layer's output h_l (SparseNet's
                  residual stream, the MLP's tanh output);
    readout_moved the same relative movement of the logits' layer (SparseNet's action keys).
"""

from __future__ import annotations

import numpy as np

from learning.bandit.policy import softmax
from learning.nets import kernels
from learning.nets.mlp import MLP

MEASURE_SIZE = 1000


def start_copy(net) -> list[np.ndarray]:
    """The parameters at the start, for the movement measure."""
    return [p.copy() for p in net.params()]


def _layer_groups(net) -> tuple[list[list[int]], list[int]]:
    """Indices into net.params() of each hidden layer's arrays, and of the logits' layer's."""
    n = len(net.params())
    if isinstance(net, MLP):  # a weight and a bias per layer, the logits' layer last
        return [[2 * l, 2 * l + 1] for l in range(n // 2 - 1)], [n - 2, n - 1]
    return [[2 * l, 2 * l + 1] for l in range((n - 1) // 2)], [n - 1]  # SparseNet: then the action keys


def _moved(params, start, idx) -> float:
    num = sum(float(np.sum((params[i].astype(np.float64) - start[i]) ** 2)) for i in idx)
    den = sum(float(np.sum(start[i].astype(np.float64) ** 2)) for i in idx)
    return float(np.sqrt(num / den)) if den > 0 else float("nan")


def forward_outputs(net, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """(logits, [h_l per hidden layer]) of SparseNet or the MLP on x, by the network's own layer functions."""
    if isinstance(net, MLP):
        logits, inputs = net.forward(x)
        return logits, list(inputs[1:])  # the inputs of layers 2..: the hidden layers' tanh outputs
    outputs, h = [], None
    for l, layer in enumerate(net.layers):
        out, _ = layer.forward(net.layer_input(l, x, h))
        h = out if l == 0 else kernels.residual_tanh(out, h)[1]
        outputs.append(h)
    logits = np.tensordot(h, net.action_keys, axes=([0, 2], [1, 2])) * net.logit_scale
    return logits, outputs


def policy_measures(logits: np.ndarray) -> dict:
    pi = softmax(logits)
    entropy = -np.sum(pi * np.log(np.maximum(pi, 1e-300)), axis=1)
    best = np.argmax(pi, axis=1)
    counts = np.bincount(best, minlength=pi.shape[1])
    return {"entropy": float(entropy.mean()), "modal_share": float(counts.max() / best.size)}


def measure(net, start: list[np.ndarray], x: np.ndarray, feature_scale: float = 1.0) -> dict:
    """The measures of the current network on the measurement images x. feature_scale: the readout
    control's factor on the last hidden layer's output, which the logits then read."""
    logits, outputs = forward_outputs(net, x)
    if feature_scale != 1.0:
        logits = logits * feature_scale
        outputs[-1] = outputs[-1] * feature_scale
    params = net.params()
    hidden, readout = _layer_groups(net)
    layers = [{"moved": _moved(params, start, idx), "rms": float(np.sqrt(np.mean(h.astype(np.float64) ** 2)))}
              for idx, h in zip(hidden, outputs)]
    return policy_measures(logits) | {"layers": layers, "readout_moved": _moved(params, start, readout)}
