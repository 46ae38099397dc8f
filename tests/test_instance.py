"""The expert instance: its .npz file, reproducibility, shapes and scales, cells, condition B."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from theory.instance import LEAK_KEYS, NPZ_KEYS, ExpertInstance, hypercube_codes, make_expert_instance

FIELDS = NPZ_KEYS + LEAK_KEYS


def assert_same(a: ExpertInstance, b: ExpertInstance) -> None:
    for key in FIELDS:
        x, y = getattr(a, key), getattr(b, key)
        if x is None or y is None:
            assert x is None and y is None, key
        else:
            np.testing.assert_array_equal(x, y, err_msg=key)


@pytest.mark.parametrize("d,k,m", [(4, 2, 3), (3, 3, 2)])
def test_npz_round_trip(tmp_path, d, k, m):
    inst = make_expert_instance(d, k, m, seed=1)
    path = tmp_path / "inst.npz"
    inst.save(path)
    with np.load(path) as data:
        stored = set(data.files)
    expected = set(NPZ_KEYS) | (set(LEAK_KEYS) if k < d else set())
    assert stored == expected
    loaded = ExpertInstance.load(path)
    assert_same(inst, loaded)
    assert (loaded.leak_coord is None) == (k == d)


def test_load_rejects_a_file_with_missing_keys(tmp_path):
    inst = make_expert_instance(3, 2, 2, seed=0)
    path = tmp_path / "partial.npz"
    np.savez(path, **{key: getattr(inst, key) for key in NPZ_KEYS if key != "alpha"})
    with pytest.raises(ValueError, match="alpha"):
        ExpertInstance.load(path)


def test_load_rejects_bad_shapes(tmp_path):
    inst = make_expert_instance(3, 2, 2, seed=0)
    arrays = {key: getattr(inst, key) for key in NPZ_KEYS}
    arrays["jacobians"] = arrays["jacobians"][:4]
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="jacobians"):
        ExpertInstance.load(path)


@pytest.mark.parametrize("coords", [[[0, 3], [1, 2]], [[-1, 0], [1, 2]], [[1, 1], [0, 2]]])
def test_load_rejects_coordinates_out_of_range_or_repeated(tmp_path, coords):
    """d = 3: a coordinate 3 or -1, or an expert reading one coordinate twice, is refused (each alone)."""
    inst = make_expert_instance(3, 2, 2, seed=0)
    arrays = {key: getattr(inst, key) for key in NPZ_KEYS} | {"coords": np.array(coords)}
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="coords must hold k distinct coordinates"):
        ExpertInstance.load(path)


def test_same_seed_same_instance_other_seed_other_instance():
    assert_same(make_expert_instance(5, 2, 4, seed=7), make_expert_instance(5, 2, 4, seed=7))
    a, b = make_expert_instance(5, 2, 4, seed=7), make_expert_instance(5, 2, 4, seed=8)
    assert not np.array_equal(a.jacobians, b.jacobians)


def test_shapes():
    d, k, m = 5, 3, 4
    inst = make_expert_instance(d, k, m, seed=2)
    R = 2**d
    assert (inst.d, inst.k, inst.m, inst.R, inst.cell_size) == (d, k, m, R, 2 ** (d - k))
    assert inst.codes.shape == (R, d)
    assert inst.jacobians.shape == (R, d, d)
    assert inst.coords.shape == inst.a.shape == inst.beta.shape == (m, k)
    for key in ("b", "gamma", "alpha", "leak_coord", "leak_c"):
        assert getattr(inst, key).shape == (m,), key
    assert inst.contributions().shape == (R, m, d)
    assert inst.cells().shape == (R, m)
    assert inst.clean_feedback().shape == (R, m)


def test_codes_are_the_hypercube():
    codes = hypercube_codes(4)
    assert set(np.unique(codes)) == {-1.0, 1.0}
    assert len({tuple(c) for c in codes}) == 16
    for r in range(16):  # bit i of r gives coordinate i
        assert all(codes[r, i] == (1.0 if (r >> i) & 1 else -1.0) for i in range(4))


def test_expert_coordinates():
    inst = make_expert_instance(6, 3, 8, seed=4)
    for j in range(inst.m):
        assert len(set(inst.coords[j])) == inst.k
        assert inst.coords[j].min() >= 0 and inst.coords[j].max() < inst.d
        assert inst.leak_coord[j] not in inst.coords[j]  # the leak reads outside S_j


def test_jacobian_scale_is_one_over_d():
    """Entries N(0, 1/d): mean and variance within 4 standard errors (2^8 * 64 = 16384 entries)."""
    d = 8
    entries = make_expert_instance(d, 2, 1, seed=5).jacobians.ravel()
    N = entries.size
    assert abs(entries.mean()) < 4 * math.sqrt(1 / d / N)
    # Var(sample variance) = 2 s^4 / (N - 1) for Gaussian entries
    assert abs(entries.var(ddof=1) - 1 / d) < 4 * math.sqrt(2 / (N - 1)) / d


def test_expert_and_target_weights_have_the_construction_scales():
    """a, beta ~ N(0, 1/k); b, gamma ~ N(0, 0.1^2); alpha, leak_c ~ N(0, 1): sample mean and std of each
    over 3840 experts (60 instances of 64) within 5 standard errors (SE of the std: sd / sqrt(2N))."""
    insts = [make_expert_instance(3, 2, 64, seed=s) for s in range(60)]
    for name, sd in (("a", 1 / math.sqrt(2)), ("beta", 1 / math.sqrt(2)), ("b", 0.1), ("gamma", 0.1),
                     ("alpha", 1.0), ("leak_c", 1.0)):
        values = np.concatenate([getattr(inst, name).ravel() for inst in insts])
        assert abs(values.mean()) < 5 * sd / math.sqrt(values.size)
        assert abs(values.std() - sd) < 5 * sd / math.sqrt(2 * values.size)


def test_contributions_are_scattered_expert_vectors_through_the_jacobians():
    inst = make_expert_instance(3, 2, 2, seed=6)
    x = inst.contributions()
    for r in range(inst.R):
        for j in range(inst.m):
            e = np.zeros(inst.d)
            e[inst.coords[j]] = inst.a[j]
            np.testing.assert_allclose(x[r, j], inst.jacobians[r].T @ e / inst.R, rtol=1e-14)


@pytest.mark.parametrize("d,k", [(4, 1), (5, 2), (6, 3), (3, 3)])
def test_cells_have_size_2_to_the_d_minus_k(d, k):
    inst = make_expert_instance(d, k, 4, seed=d + k)
    cells = inst.cells()
    for j in range(inst.m):
        counts = np.bincount(cells[:, j], minlength=2**k)
        assert counts.size == 2**k and np.all(counts == 2 ** (d - k))
        # a cell is one sign pattern of the code on S_j
        for z in range(2**k):
            patterns = {tuple(inst.codes[r, inst.coords[j]]) for r in np.flatnonzero(cells[:, j] == z)}
            assert len(patterns) == 1


@pytest.mark.parametrize("d,k,repeat", [(3, 1, False), (4, 2, False), (5, 3, False), (3, 3, False), (3, 2, True)])
def test_inverse_cell_counts_by_counting_states(d, k, repeat):
    """1/|C_jz| per expert and cell key, counted here state by state (catches a wrong number of keys per
    expert, 2k instead of 2^k, which agree only for k = 1, 2). An instance file may repeat codes, so
    some keys hold no state: their weight is 0 (`repeat`: every state has the first state's code)."""
    import dataclasses
    inst = make_expert_instance(d, k, 3, seed=d * k)
    if repeat:
        inst = dataclasses.replace(inst, codes=np.repeat(inst.codes[:1], inst.R, axis=0))
    cells = inst.cells()
    expected = np.zeros((inst.m, 2**k))
    for j in range(inst.m):
        for z in range(2**k):
            n = sum(1 for r in range(inst.R) if cells[r, j] == z)
            expected[j, z] = 1.0 / n if n else 0.0
    np.testing.assert_array_equal(inst.inverse_cell_counts(), expected)


def test_clean_feedback_is_a_function_of_the_cell_under_B():
    inst = make_expert_instance(5, 2, 4, seed=9)
    cells = inst.cells()
    for rho, B_holds in ((0.0, True), (0.4, False)):
        fbar = inst.clean_feedback(rho)
        spread = max(np.ptp(fbar[cells[:, j] == z, j]) for j in range(inst.m) for z in range(2**inst.k))
        assert (spread == 0.0) == B_holds


def test_clean_feedback_formula():
    inst = make_expert_instance(4, 2, 3, seed=10)
    r, j = 11, 2
    u = inst.codes[r]
    expected = (inst.a[j] - inst.beta[j]) @ u[inst.coords[j]] + inst.b[j] - inst.gamma[j]
    np.testing.assert_allclose(inst.clean_feedback()[r, j], expected, rtol=1e-14)
    leak = 0.3 * inst.leak_c[j] * u[inst.leak_coord[j]]
    np.testing.assert_allclose(inst.clean_feedback(0.3)[r, j], expected + leak, rtol=1e-14)


def test_leak_needs_k_below_d(capsys):
    """The instance, a sweep's grid and both commands refuse a leak at k = d with the same line."""
    from montecarlo.sweep import expert_configs
    from sgbp.cli import main

    line = "leak needs k < d (a coordinate outside S_j), got k = 3, d = 3"
    with pytest.raises(ValueError) as err:
        make_expert_instance(3, 3, 2, seed=0).clean_feedback(0.5)
    assert str(err.value) == line
    with pytest.raises(ValueError) as err:
        expert_configs(["noisy"], ds=[3, 4], ks=[3], ns=[1], rho=0.5)
    assert str(err.value) == line
    for command in ("theory", "explore"):
        assert main([command, "expert", "--d", "3", "--k", "3", "--leak", "0.5"]) == 2
        assert capsys.readouterr().err == f"sgbp: error: {line}\n"


@pytest.mark.parametrize("kwargs,name", [({"d": 0, "k": 1, "m": 1}, "d"), ({"d": 21, "k": 2, "m": 1}, "d"),
                                         ({"d": 3, "k": 4, "m": 1}, "k"), ({"d": 3, "k": 2, "m": 0}, "m"),
                                         ({"d": 3.0, "k": 2, "m": 1}, "d")])
def test_bad_shapes_are_rejected(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name} must"):
        make_expert_instance(seed=0, **kwargs)


def test_instance_shape_limits():
    """m up to 64 experts; d up to 20, whose 2^d Jacobians of d x d float64 take 8 * 2^20 * 400 bytes
    = 3.36 GB (the refusal says 3.4 GB); k between 1 and d."""
    from theory.params import check_instance_shape, jacobian_bytes

    assert jacobian_bytes(20) == 3_355_443_200 and jacobian_bytes(3) == 576
    check_instance_shape(d=20, k=20, m=64)
    for bad, message in (({"d": 21, "k": 2, "m": 2}, r"d must be between 1 and 20 \(.*3\.4 GB at d = 20\)"),
                         ({"d": 3, "k": 4, "m": 2}, "k must be between 1 and 3"),
                         ({"d": 3, "k": 2, "m": 65}, "m must be between 1 and 64")):
        with pytest.raises(ValueError, match=message):
            check_instance_shape(**bad)


@pytest.mark.parametrize("case", ["noisy", "activation", "partial"])
def test_the_deterministic_setting_of_each_case_has_no_noise(case):
    """DETERMINISTIC names the setting that makes each case's feedback deterministic (T5): every feedback
    sample is then the clean feedback, so V_BP and V_SG are exactly 0 at any n."""
    from theory.exact import exact_mse
    from theory.feedback import FeedbackModel
    from theory.params import DETERMINISTIC

    ex = exact_mse(make_expert_instance(3, 2, 2, seed=0), FeedbackModel(case=case, **DETERMINISTIC[case]), 1)
    assert ex.var_bp == 0.0 and ex.var_sg == 0.0
    noisy = exact_mse(make_expert_instance(3, 2, 2, seed=0), FeedbackModel(case=case), 1)
    assert noisy.var_bp > 0.0


@pytest.mark.parametrize("bounds,value,span", [
    ({"lo": 0.0, "hi": 1.0}, 2.0, "[0.0, 1.0]"),
    ({"lo": 0.0, "hi": 1.0, "lo_open": True}, 0.0, "(0.0, 1.0]"),
    ({"lo": 0.0, "hi": 1.0, "hi_open": True}, 1.0, "[0.0, 1.0)"),
    ({"lo": 0.0}, -1.0, "[0.0, inf)"),
    ({"hi": 1.0}, 3.0, "(-inf, 1.0]"),
    ({}, math.nan, "(-inf, inf)"),
])
def test_check_real_names_its_interval_with_open_and_closed_ends(bounds, value, span):
    """The refusal writes the allowed interval as a reader expects: a bracket at a closed end, a parenthesis
    at an open one and at a missing (infinite) one."""
    from theory.params import check_real

    with pytest.raises(ValueError, match=f"^x must be in {re.escape(span)}, got "):
        check_real("x", value, **bounds)
