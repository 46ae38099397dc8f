"""The policies of E3 by name, with the authors' sizes."""

from __future__ import annotations

import numpy as np

from learning.nets.dense import MLPHead, ObsEmbedding
from learning.nets.gru import GRUCore
from learning.nets.lstm import LSTMCore
from learning.nets.recurrent_policy import RecurrentPolicy
from learning.nets.recurrent_sparsenet import RecurrentSparseCore, RoutedActor

EMBED = 128  # observation embedding
HIDDEN = 256  # GRU / LSTM hidden size
ACTOR_HIDDEN = 128
MODELS = ("gru", "lstm", "sparsenet-bptt", "sparsenet-sg")


def build_policy(name: str, obs_size: int, actions: int, rng: np.random.Generator, dtype=np.float32,
                 sizes: dict | None = None) -> RecurrentPolicy:
    """sizes: smaller 'embed', 'hidden', 'actor_hidden' (GRU, LSTM) or 'sparse' (keyword arguments of
    RecurrentSparseCore) for tests."""
    s = {"embed": EMBED, "hidden": HIDDEN, "actor_hidden": ACTOR_HIDDEN, "sparse": {}} | (sizes or {})
    if name not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {name!r}")
    embedding = ObsEmbedding(obs_size, s["embed"], rng, dtype)
    if name.startswith("sparsenet"):
        core = RecurrentSparseCore(s["embed"], rng, dtype, **s["sparse"])
        return RecurrentPolicy(embedding, core, RoutedActor(core.features, actions, rng, dtype))
    core = (GRUCore if name == "gru" else LSTMCore)(s["embed"], s["hidden"], rng, dtype)
    head = MLPHead(s["hidden"], s["actor_hidden"], actions, rng, dtype)
    return RecurrentPolicy(embedding, core, head)
