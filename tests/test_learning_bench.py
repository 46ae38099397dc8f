"""The benchmark's FLOP count is the matrix products a training step really makes."""

import numpy as np
import pytest

from learning.bandit.train import Learner, full_config
from learning.bandit.bench import logit_flops, step_flops


@pytest.mark.parametrize("method", ["sg", "sg-fixed", "bp"])
def test_step_flops_counts_the_products_of_a_step(method, monkeypatch):
    """Every numpy.matmul of one SparseNet step counted from its operands' shapes; the logits (tensordot)
    are added from the formula. Catches a FLOP count that inflates the reported rate."""
    cfg = full_config({"method": method, "layers": 3, "width": 12, "neuron": 4, "slots": 3, "parents": 2,
                       "first_inputs": 7, "batch": 16})
    rng = np.random.default_rng(0)
    learner = Learner(cfg, 784, 9, rng)
    x = rng.normal(size=(16, 784)).astype(np.float32)
    y = rng.integers(0, 9, size=16)
    counted = []
    real = np.matmul

    def counting(a, b, *args, **kw):
        out = real(a, b, *args, **kw)
        counted.append(2 * out.size * a.shape[-1])
        return out

    monkeypatch.setattr(np, "matmul", counting)
    learner.step(x, y, 0.4, rng)
    monkeypatch.undo()
    assert sum(counted) + logit_flops(cfg) == step_flops(cfg)
