"""A small finite-partition model with symbolic contributions, clean feedback and noise.

The estimators are built from their definitions (docs/theory.md section 2): BP pushes each state's
feedback average through its contributions, SG replaces it by the mean of the averages over
the expert's cell. The noise of the averages is nu_rj = fhat_j(r) - fbar_j(r): zero mean,
independent across states, with a within-state covariance cov[r] (m x m) that is left general.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from theory.symbolic.core import block_vector, cell_of, expect, expect_dot, expect_sqnorm, expect_vector, hypercube_cells, vector


@dataclass
class PartitionModel:
    R: int
    m: int
    cells: list  # cells[j]: the cells of expert j, tuples of states
    x: dict  # (r, j) -> contribution vector x_rj
    fbar: dict  # (r, j) -> clean feedback fbar_j(r)
    nu: dict  # (r, j) -> noise symbol of the per-state average
    cov: dict  # r -> m x m covariance of (nu_r1, ..., nu_rm)

    def __post_init__(self):
        self._where = {symbol: key for key, symbol in self.nu.items()}

    @property
    def noise(self) -> list:
        return [self.nu[r, j] for r in range(self.R) for j in range(self.m)]

    def moment(self, a, b):
        """E[nu_rj nu_r'j'] = [r == r'] cov_r[j, j']: independent across states."""
        (r, j), (s, jj) = self._where[a], self._where[b]
        return self.cov[r][j, jj] if r == s else sp.Integer(0)

    def E(self, expr):
        return expect(expr, self.noise, self.moment)

    def E_vector(self, vec):
        return expect_vector(vec, self.noise, self.moment)

    def _sum(self, term):
        dim = self.x[0, 0].shape[0]
        total = sp.zeros(dim, 1)
        for r in range(self.R):
            for j in range(self.m):
                total += term(r, j)
        return total

    def fhat(self, r, j):
        return self.fbar[r, j] + self.nu[r, j]

    def cell(self, r, j):
        return cell_of(self.cells[j], r)

    def table(self, j, cell):
        """shat_j(z): the mean of the per-state averages over the cell."""
        return sp.Add(*[self.fhat(r, j) for r in cell]) / len(cell)

    def grad(self):
        return self._sum(lambda r, j: self.x[r, j] * self.fbar[r, j])

    def bp(self):
        return self._sum(lambda r, j: self.x[r, j] * self.fhat(r, j))

    def sg(self):
        return self._sum(lambda r, j: self.x[r, j] * self.table(j, self.cell(r, j)))

    def bias(self):
        """sum_r sum_j x_rj (mean_{r' in C_j z_j(r)} fbar_j(r') - fbar_j(r))."""
        def term(r, j):
            cell = self.cell(r, j)
            return self.x[r, j] * (sp.Add(*[self.fbar[s, j] for s in cell]) / len(cell) - self.fbar[r, j])
        return self._sum(term)

    def cell_sum(self, j, cell):
        """X_jz = sum_{r in C_jz} x_rj."""
        return sum((self.x[r, j] for r in cell), sp.zeros(self.x[0, 0].shape[0], 1))

    def cell_averaged(self, r, j):
        """y_rj = X_{j z_j(r)} / |C|: the contribution through which nu_rj reaches the SG."""
        cell = self.cell(r, j)
        return self.cell_sum(j, cell) / len(cell)

    def E_dot(self, a, b):
        return expect_dot(a, b, self.noise, self.moment)

    def mse(self, estimate):
        """E||estimate - grad||^2 over the noise of the per-state averages."""
        return expect_sqnorm(estimate - self.grad(), self.noise, self.moment)


def symmetric(name: str, m: int) -> sp.Matrix:
    """A general symmetric m x m matrix of symbols (a covariance)."""
    return sp.Matrix(m, m, lambda i, j: sp.Symbol(f"{name}_{min(i, j)}{max(i, j)}", real=True))


def make_model(d: int, reads, dim: int | None = None, separate_blocks: bool = False,
               clean: str = "general", cov: str = "general") -> PartitionModel:
    """States r < 2^d; expert j reads the code coordinates reads[j].

    dim: length of each contribution (per block with separate_blocks);
    clean: 'general' (one symbol per state and expert) or 'B' (one symbol per cell: condition B);
    cov: 'general' (a symmetric within-state covariance per state) or 'cell' (independent
    across experts, variance v_jz / n constant within each cell).
    """
    R, m = 2**d, len(reads)
    cells = hypercube_cells(d, reads)
    dim = dim or 2
    x, fbar, nu = {}, {}, {}
    n = sp.Symbol("n", positive=True)
    for r in range(R):
        for j in range(m):
            name = f"x_{r}{j}"
            x[r, j] = block_vector(name, r, R, dim) if separate_blocks else vector(name, dim)
            z = cells[j].index(cell_of(cells[j], r))
            fbar[r, j] = sp.Symbol(f"g_{j}{z}", real=True) if clean == "B" else sp.Symbol(f"fbar_{r}{j}", real=True)
            nu[r, j] = sp.Symbol(f"nu_{r}{j}", real=True)
    covs = {}
    for r in range(R):
        if cov == "general":
            covs[r] = symmetric(f"Sigma{r}", m)
        else:
            diag = [sp.Symbol(f"v_{j}{cells[j].index(cell_of(cells[j], r))}", positive=True) / n for j in range(m)]
            covs[r] = sp.diag(*diag)
    return PartitionModel(R=R, m=m, cells=cells, x=x, fbar=fbar, nu=nu, cov=covs)

