"""The finite-partition expert model of docs/theory.md section 2, as data.

An instance is drawn once per seed, in the order docs/experiments.md E1 describes
(Jacobians, expert coordinates, a, b, beta, gamma, alpha); the leak that breaks
condition B is drawn last, so that turning it on leaves everything else unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from theory.params import check_instance_shape, check_leak

NPZ_KEYS = ("codes", "jacobians", "coords", "a", "b", "beta", "gamma", "alpha")
LEAK_KEYS = ("leak_coord", "leak_c")


@dataclass(frozen=True)
class ExpertInstance:
    """One draw of the expert construction.

    codes      (R, d)    state codes u_r in {-1, +1}; bit i of r gives coordinate i
    jacobians  (R, d, d) block r of the gradient is J_r^T g(r)
    coords     (m, k)    the coordinates S_j expert j reads
    a, beta    (m, k)    expert and target weights
    b, gamma   (m,)      expert and target offsets
    alpha      (m,)      loading of the unobserved latent (partial observation)
    leak_coord (m,)      a coordinate outside S_j (None when k == d)
    leak_c     (m,)      the leak's weight c_j
    """

    codes: np.ndarray
    jacobians: np.ndarray
    coords: np.ndarray
    a: np.ndarray
    b: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray
    alpha: np.ndarray
    leak_coord: np.ndarray | None = None
    leak_c: np.ndarray | None = None

    @property
    def d(self) -> int:
        return self.codes.shape[1]

    @property
    def R(self) -> int:
        return self.codes.shape[0]

    @property
    def m(self) -> int:
        return self.coords.shape[0]

    @property
    def k(self) -> int:
        return self.coords.shape[1]

    @property
    def cell_size(self) -> int:
        """|C| = 2^(d-k): states sharing one local sign pattern."""
        return self.R >> self.k

    def expert_vectors(self) -> np.ndarray:
        """e_j (m, d): a_j scattered into the coordinates S_j."""
        e = np.zeros((self.m, self.d))
        for j in range(self.m):
            e[j, self.coords[j]] = self.a[j]
        return e

    def contributions(self) -> np.ndarray:
        """x_rj = w_r J_r^T e_j (R, m, d), uniform weights w_r = 1/R."""
        return np.matmul(self.expert_vectors(), self.jacobians) / self.R

    def inverse_cell_counts(self) -> np.ndarray:
        """1 / |C_jz| (m, 2^k) for expert j's cell key z; 0 for a key no state has (k = d)."""
        nkeys = 2**self.k
        keys = self.cells() + nkeys * np.arange(self.m)  # one bincount for all experts
        counts = np.bincount(keys.ravel(), minlength=self.m * nkeys).reshape(self.m, nkeys)
        return np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)

    def cells(self) -> np.ndarray:
        """z_j(r) (R, m): the key sum_i bit_i 2^i of u_r on S_j, in [0, 2^k)."""
        bits = (self.codes[:, self.coords] > 0).astype(np.int64)  # (R, m, k)
        return bits @ (1 << np.arange(self.k, dtype=np.int64))

    def clean_feedback(self, rho: float = 0.0) -> np.ndarray:
        """fbar_j(r) (R, m) = (a_j - beta_j)^T u_{S_j} + (b_j - gamma_j) [+ rho c_j u[l_j]]."""
        u = self.codes[:, self.coords]  # (R, m, k)
        fbar = np.einsum("rjk,jk->rj", u, self.a - self.beta) + (self.b - self.gamma)
        if rho != 0.0:
            fbar = fbar + rho * self.leak_feedback()
        return fbar

    def leak_feedback(self) -> np.ndarray:
        """The leak's direction c_j u[l_j] (R, m): clean_feedback(rho) = clean_feedback(0) + rho * this."""
        check_leak(1.0, self.k, self.d)
        if self.leak_coord is None:
            raise ValueError("leak: this instance was saved without leak coordinates (leak_coord, leak_c)")
        return self.leak_c * self.codes[:, self.leak_coord]

    def save(self, path: str | Path) -> None:
        arrays = {key: getattr(self, key) for key in NPZ_KEYS}
        if self.leak_coord is not None:
            arrays.update(leak_coord=self.leak_coord, leak_c=self.leak_c)
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "ExpertInstance":
        with np.load(path) as data:
            missing = [key for key in NPZ_KEYS if key not in data]
            if missing:
                raise ValueError(f"instance file {path}: missing keys {', '.join(missing)}")
            fields = {key: np.array(data[key]) for key in NPZ_KEYS}
            for key in LEAK_KEYS:
                fields[key] = np.array(data[key]) if key in data else None
        fields["codes"] = fields["codes"].astype(np.float64)
        fields["coords"] = fields["coords"].astype(np.int64)
        if fields["leak_coord"] is not None:
            fields["leak_coord"] = fields["leak_coord"].astype(np.int64)
        inst = cls(**fields)
        _check_loaded(inst, path)
        return inst


def hypercube_codes(d: int) -> np.ndarray:
    """All 2^d codes; bit i of the state index is coordinate i."""
    r = np.arange(2**d, dtype=np.int64)[:, None]
    return 2.0 * ((r >> np.arange(d, dtype=np.int64)) & 1) - 1.0


def make_expert_instance(d: int, k: int, m: int, seed: int) -> ExpertInstance:
    """Draw the authors' construction (docs/experiments.md E1) from `seed`."""
    check_instance_shape(d=d, k=k, m=m)
    rng = np.random.default_rng(seed)
    R = 2**d
    jacobians = rng.normal(0.0, 1.0 / np.sqrt(d), size=(R, d, d))
    coords = np.empty((m, k), dtype=np.int64)
    for j in range(m):
        coords[j] = rng.choice(d, size=k, replace=False)
    a = rng.normal(0.0, 1.0 / np.sqrt(k), size=(m, k))
    b = rng.normal(0.0, 0.1, size=m)
    beta = rng.normal(0.0, 1.0 / np.sqrt(k), size=(m, k))
    gamma = rng.normal(0.0, 0.1, size=m)
    alpha = rng.normal(0.0, 1.0, size=m)
    leak_coord = leak_c = None
    if k < d:
        leak_coord = np.array(
            [rng.choice(np.setdiff1d(np.arange(d), coords[j])) for j in range(m)], dtype=np.int64
        )
        leak_c = rng.normal(0.0, 1.0, size=m)
    return ExpertInstance(
        codes=hypercube_codes(d),
        jacobians=jacobians,
        coords=coords,
        a=a,
        b=b,
        beta=beta,
        gamma=gamma,
        alpha=alpha,
        leak_coord=leak_coord,
        leak_c=leak_c,
    )


def _check_loaded(inst: ExpertInstance, path) -> None:
    R, d = inst.codes.shape
    m, k = inst.coords.shape
    if R != 2**d or inst.jacobians.shape != (R, d, d):
        raise ValueError(f"instance file {path}: codes must be (2^d, d) and jacobians (2^d, d, d)")
    if not np.all(np.abs(inst.codes) == 1.0):
        raise ValueError(f"instance file {path}: codes must be in {{-1, +1}}")
    for key, shape in (("a", (m, k)), ("beta", (m, k)), ("b", (m,)), ("gamma", (m,)), ("alpha", (m,))):
        if getattr(inst, key).shape != shape:
            raise ValueError(f"instance file {path}: {key} must have shape {shape}")
    if inst.coords.min() < 0 or inst.coords.max() >= d or any(len(set(row)) != k for row in inst.coords):
        raise ValueError(f"instance file {path}: coords must hold k distinct coordinates in [0, {d})")
