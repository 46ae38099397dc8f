"""Shared tools of the derivations: symbolic vectors, expectations of quadratic forms in
zero-mean noise, exact identity checks, and the record each derivation returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import sympy as sp


@dataclass(frozen=True)
class Derivation:
    """One result derived with sympy.

    exprs: the derived closed forms (name -> sympy expression);
    checks: each exact identity or property that was tested (name -> outcome);
    numbers: a short readable summary; latex: the result in LaTeX.
    """

    id: str
    statement: str
    exprs: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)
    numbers: str = ""
    latex: str = ""

    def __post_init__(self):
        object.__setattr__(self, "checks", {name: bool(ok) for name, ok in self.checks.items()})

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(self.checks.values())

    @property
    def failed_checks(self) -> list[str]:
        return [name for name, ok in self.checks.items() if not ok]


def identical(a, b) -> bool:
    """Exact identity a == b, decided without open-ended simplification where possible.

    Polynomials are settled by expanding and rational functions by cancelling, both exactly:
    a false identity of either kind fails at once. Anything else (roots, Max, sums) is first
    evaluated at a few points, so that a false identity fails fast, and only then simplified.
    """
    diff = sp.expand(sp.sympify(a) - sp.sympify(b))
    if diff == 0:
        return True
    if diff.is_rational_function():
        return sp.cancel(sp.together(diff)) == 0
    if differs_at_a_point(diff):
        return False
    return sp.cancel(diff) == 0 or sp.simplify(diff) == 0


def differs_at_a_point(expr, points: int = 3) -> bool:
    """True when expr is clearly nonzero at some point: integer symbols get small positive
    integers, the others positive rationals (every symbol of the derivations is real, most are
    positive). Points where expr is not a finite number prove nothing."""
    symbols = sorted(expr.free_symbols, key=str)
    if not all(isinstance(s, sp.Symbol) for s in symbols):
        return False
    for k in range(points):
        values = {s: sp.Integer(2 + (i + k) % 3) if s.is_integer else sp.Rational(3 + (7 * i + 5 * k) % 11, 5)
                  for i, s in enumerate(symbols)}
        value = expr.xreplace(values).evalf(30)
        if value.is_number and value.is_finite and abs(complex(value)) > 1e-12:
            return True
    return False


def constant_ratio(num, den):
    """num / den when it is a constant c, shown as the polynomial identity num = c den with c read
    off at one point; None when it is not (found by expanding, never by simplifying a ratio)."""
    num, den = sp.expand(num), sp.expand(den)
    point = {s: sp.Rational(3 + (7 * i) % 11, 5) for i, s in enumerate(sorted(den.free_symbols | num.free_symbols,
                                                                               key=str))}
    at = den.xreplace(point)
    if at == 0:
        return None
    c = num.xreplace(point) / at
    return c if identical(num, c * den) else None


def all_identical(a: sp.Matrix, b: sp.Matrix) -> bool:
    """Two matrices of the same shape, identical entry by entry (identical())."""
    return a.shape == b.shape and all(identical(x, y) for x, y in zip(a, b))


def vector(name: str, dim: int) -> sp.Matrix:
    """A column of `dim` real symbols name_0 .. name_{dim-1}."""
    return sp.Matrix(sp.symbols(f"{name}_0:{dim}", real=True))


def block_vector(name: str, block: int, n_blocks: int, dim: int) -> sp.Matrix:
    """A vector of n_blocks * dim coordinates, symbolic on block `block` and zero elsewhere:
    a contribution that lands in its own parameter block (separate blocks)."""
    out = sp.zeros(n_blocks * dim, 1)
    out[block * dim:(block + 1) * dim, 0] = vector(name, dim)
    return out


def dot(a: sp.Matrix, b: sp.Matrix) -> sp.Expr:
    """<a, b> of two columns."""
    return (a.T * b)[0, 0]


def sqnorm(a: sp.Matrix) -> sp.Expr:
    """||a||^2 of a column."""
    return dot(a, a)


def expect(expr, noise: Sequence[sp.Symbol], moment: Callable[[sp.Symbol, sp.Symbol], sp.Expr]) -> sp.Expr:
    """E[expr] for expr a polynomial of degree <= 2 in zero-mean noise variables.

    moment(a, b) gives E[a b]. Constant terms are kept, terms linear in the noise vanish
    (zero mean), each quadratic monomial is replaced by its second moment.
    """
    poly = sp.Poly(sp.expand(expr), *noise)
    total = sp.Integer(0)
    for powers, coeff in poly.terms():
        degree = sum(powers)
        if degree == 0:
            total += coeff
        elif degree == 2:
            pair = [noise[i] for i, e in enumerate(powers) for _ in range(e)]
            total += coeff * moment(pair[0], pair[1])
        elif degree > 2:
            raise ValueError("expect: only quadratic forms in the noise are supported")
    return sp.expand(total)


def linear_parts(vec: sp.Matrix, noise: Sequence[sp.Symbol]) -> tuple[sp.Matrix, list[sp.Matrix]]:
    """Split a vector affine in the noise into its constant part and the coefficient of each
    noise variable (sympy raises if an entry is not affine in the noise)."""
    A, b = sp.linear_eq_to_matrix(list(vec), list(noise))  # vec = A noise - b
    return -b, [A[:, k] for k in range(A.cols)]


def expect_dot(vec1: sp.Matrix, vec2: sp.Matrix, noise: Sequence[sp.Symbol], moment) -> sp.Expr:
    """E<a_0 + sum_k a_k nu_k, b_0 + sum_l b_l nu_l> = <a_0, b_0> + sum_{k,l} <a_k, b_l> E[nu_k nu_l]
    for zero-mean nu (the cross terms with one noise factor vanish).

    The inner products are formed in a polynomial ring (exact, and much faster than expanding
    sympy expressions), grouped by the value of the second moment; every entry must be a
    polynomial in its symbols, as in every model of theory.symbolic.
    """
    const1, coeffs1 = linear_parts(vec1, noise)
    const2, coeffs2 = linear_parts(vec2, noise)
    entries = [*const1, *const2, *(e for c in coeffs1 + coeffs2 for e in c)]
    gens = sorted(set().union(*(e.free_symbols for e in entries)), key=str) or [sp.Dummy()]
    ring, *_ = sp.xring(gens, sp.QQ)
    try:
        to_ring = [ring.from_expr(e) for e in entries]
    except (ValueError, TypeError, sp.CoercionFailed):
        raise ValueError("expect_dot: the vectors' entries must be polynomials in their symbols "
                         "(rational coefficients)") from None
    dim = const1.shape[0]
    c1, c2 = to_ring[:dim], to_ring[dim:2 * dim]
    rest = to_ring[2 * dim:]
    k1 = [rest[i * dim:(i + 1) * dim] for i in range(len(noise))]
    k2 = [rest[(len(noise) + i) * dim:(len(noise) + i + 1) * dim] for i in range(len(noise))]

    def inner_ring(a, b):
        return sum((x * y for x, y in zip(a, b)), ring.zero)

    groups = {sp.Integer(1): inner_ring(c1, c2)}
    for k, a in enumerate(noise):
        for l, b in enumerate(noise):
            second = moment(a, b)
            if second != 0:
                groups[second] = groups.get(second, ring.zero) + inner_ring(k1[k], k2[l])
    return sp.expand(sp.Add(*[second * poly.as_expr() for second, poly in groups.items()]))


def expect_sqnorm(vec: sp.Matrix, noise: Sequence[sp.Symbol], moment) -> sp.Expr:
    """E||a_0 + sum_k a_k nu_k||^2."""
    return expect_dot(vec, vec, noise, moment)


def expect_vector(vec: sp.Matrix, noise, moment) -> sp.Matrix:
    """expect() entry by entry."""
    return vec.applyfunc(lambda e: expect(e, noise, moment))


def pairs(items: Iterable) -> list[tuple]:
    """The unordered pairs (a, b) of distinct positions, a before b."""
    items = list(items)
    return [(items[i], items[j]) for i in range(len(items)) for j in range(i + 1, len(items))]


def hypercube_cells(d: int, reads: Sequence[Sequence[int]]) -> list[list[tuple[int, ...]]]:
    """For each expert (the coordinates it reads), its cells: lists of states sharing a sign pattern.

    State r has code bit i = (r >> i) & 1, as in theory.instance.
    """
    out = []
    for coords in reads:
        groups: dict[tuple[int, ...], list[int]] = {}
        for r in range(2**d):
            groups.setdefault(tuple((r >> i) & 1 for i in coords), []).append(r)
        out.append([tuple(g) for _, g in sorted(groups.items())])
    return out


def cell_of(cells: list[tuple[int, ...]], r: int) -> tuple[int, ...]:
    """The cell (of one expert's cells, from hypercube_cells) holding state r."""
    return next(c for c in cells if r in c)
