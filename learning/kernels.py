"""Fused elementwise kernels (numba, serial) for the routed layer, the SG predictor and Adam.

The matrix products stay in BLAS (numpy.matmul); these loops fuse the elementwise work around
them so that each array is read once. Serial on purpose: parallelism comes from separate runs.
fastmath lets LLVM reorder sums so that they vectorise; the order is fixed by the compiled code,
so a run repeats its numbers exactly.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


_TANH_CLAMP = np.float32(7.90531110763549805)
_TANH_P = (np.float32(-2.76076847742355e-16), np.float32(2.00018790482477e-13), np.float32(-8.60467152213735e-11),
           np.float32(5.12229709037114e-08), np.float32(1.48572235717979e-05), np.float32(6.37261928875436e-04),
           np.float32(4.89352455891786e-03))
_TANH_Q = (np.float32(1.19825839466702e-06), np.float32(1.18534705686654e-04), np.float32(2.26843463243900e-03),
           np.float32(4.89352518554385e-03))


@njit(cache=True, inline="always", fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def tanh32(x):
    """float32 tanh as a rational function (absolute error below 3e-7); it vectorises, libm's does not."""
    x = min(max(x, -_TANH_CLAMP), _TANH_CLAMP)
    x2 = x * x
    p = _TANH_P[0]
    for c in _TANH_P[1:]:
        p = x2 * p + c
    q = _TANH_Q[0]
    for c in _TANH_Q[1:]:
        q = x2 * q + c
    return x * p / q


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def _slot_tanh32(pre, bias, y):
    W, B, _ = pre.shape
    mn = y.shape[2]
    for w in range(W):
        for b in range(B):
            for k in range(mn):
                y[w, b, k] = tanh32(pre[w, b, k] + bias[w, k])


@njit(cache=True, error_model="numpy")
def _slot_tanh64(pre, bias, y):
    W, B, _ = pre.shape
    mn = y.shape[2]
    for w in range(W):
        for b in range(B):
            for k in range(mn):
                y[w, b, k] = math.tanh(pre[w, b, k] + bias[w, k])


def slot_tanh(pre, bias):
    """y (W, B, M, n) = tanh(pre[..., :M*n] + bias): exact tanh in float64, tanh32 in float32."""
    W, B, _ = pre.shape
    M, n = bias.shape[1], bias.shape[2]
    y = np.empty((W, B, M * n), dtype=pre.dtype)
    (_slot_tanh32 if pre.dtype == np.float32 else _slot_tanh64)(pre, bias.reshape(W, M * n), y)
    return y.reshape(W, B, M, n)


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def _route_and_mix(pre, y, scale):
    W, B, M, n = y.shape
    mn = M * n
    out = np.zeros((W, B, n), dtype=y.dtype)
    route = np.empty((W, B, M), dtype=y.dtype)
    for w in range(W):
        for b in range(B):
            top = pre[w, b, mn] * scale
            for m in range(1, M):
                top = max(top, pre[w, b, mn + m] * scale)
            total = 0.0
            for m in range(M):
                e = math.exp(pre[w, b, mn + m] * scale - top)
                route[w, b, m] = e
                total += e
            for m in range(M):
                r = route[w, b, m] / total
                route[w, b, m] = r
                for j in range(n):
                    out[w, b, j] += r * y[w, b, m, j]
    return out, route


def routed_forward(pre, bias, scale):
    """pre (W, B, M*n + M) = x @ weights^T -> out (W, B, n), route (W, B, M), y (W, B, M, n)."""
    y = slot_tanh(pre, bias)
    out, route = _route_and_mix(pre, y, pre.dtype.type(scale))
    return out, route, y


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def routed_feedback(dout, route, y, scale):
    """d out (W, B, n) -> G (W, B, M*n + M): d z of the slot maps, then scale * d logits of the routing."""
    W, B, M, n = y.shape
    mn = M * n
    G = np.empty((W, B, mn + M), dtype=y.dtype)
    dr = np.empty(M, dtype=np.float64)
    for w in range(W):
        for b in range(B):
            mean = 0.0
            for m in range(M):
                r = route[w, b, m]
                s = 0.0
                for j in range(n):
                    t = y[w, b, m, j]
                    g = dout[w, b, j]
                    s += g * t
                    G[w, b, m * n + j] = r * g * (1.0 - t * t)
                dr[m] = s
                mean += r * s
            for m in range(M):
                G[w, b, mn + m] = scale * route[w, b, m] * (dr[m] - mean)
    return G


@njit(cache=True)
def scatter_rows(dx, parents, pool):
    """dx (C, B, k, n), parents (C, k) -> (pool, B, n): the sum over (c, p) with parents[c, p] = i."""
    C, B, k, n = dx.shape
    out = np.zeros((pool, B, n), dtype=dx.dtype)
    for c in range(C):
        for p in range(k):
            i = parents[c, p]
            for b in range(B):
                for j in range(n):
                    out[i, b, j] += dx[c, b, p, j]
    return out


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def adam_update(param, grad, m1, m2, beta1, c1, beta2, c2, step, root2, eps):
    """One Adam step in place on 2-D arrays (grad may be a strided view); c1 = 1 - beta1, c2 = 1 - beta2,
    step = lr / (1 - beta1^t), root2 = sqrt(1 - beta2^t). Scalars come in the parameters' dtype."""
    R, N = param.shape
    for r in range(R):
        for i in range(N):
            g = grad[r, i]
            a = beta1 * m1[r, i] + c1 * g
            v = beta2 * m2[r, i] + c2 * g * g
            m1[r, i] = a
            m2[r, i] = v
            param[r, i] -= step * a / (np.sqrt(v) / root2 + eps)


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def route_mix(pre, bias, route):
    """out (W, B, n) = sum_m route[w, b, m] * (pre[w, b, m*n + j] + bias[w, m, j])."""
    W, B, M = route.shape
    n = bias.shape[2]
    out = np.zeros((W, B, n), dtype=pre.dtype)
    for w in range(W):
        for b in range(B):
            for m in range(M):
                r = route[w, b, m]
                for j in range(n):
                    out[w, b, j] += r * (pre[w, b, m * n + j] + bias[w, m, j])
    return out


@njit(cache=True, inline="always", fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def _feedback_row(d, route, y, scale, out, mn):
    """routed_feedback for one (neuron, sample): d (n,), route (M,), y (M, n) -> out (M*n + M,)."""
    M, n = y.shape
    mean = 0.0
    for m in range(M):
        s = 0.0
        r = route[m]
        for j in range(n):
            t = y[m, j]
            s += d[j] * t
            out[m * n + j] = r * d[j] * (1.0 - t * t)
        out[mn + m] = s
        mean += r * s
    for m in range(M):
        out[mn + m] = scale * route[m] * (out[mn + m] - mean)


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def mixed_feedback(delta, pred, lam, tanh_out, has_tanh, route, y, scale):
    """m = lam delta + (1 - lam) pred at h_l (lam per neuron), and the slot feedback G of m.

    has_tanh: layer l >= 2, where h_l = tanh(out_l) + h_{l-1} and the feedback reaching the
    routed output is m * (1 - tanh_out^2).
    """
    W, B, M, n = y.shape
    mn = M * n
    m_out = np.empty((W, B, n), dtype=delta.dtype)
    G = np.empty((W, B, mn + M), dtype=delta.dtype)
    d = np.empty(n, dtype=delta.dtype)
    for w in range(W):
        lw = lam[w]
        for b in range(B):
            for j in range(n):
                mj = lw * delta[w, b, j] + (1.0 - lw) * pred[w, b, j]
                m_out[w, b, j] = mj
                if has_tanh:
                    t = tanh_out[w, b, j]
                    mj = mj * (1.0 - t * t)
                d[j] = mj
            _feedback_row(d, route[w, b], y[w, b], scale, G[w, b], mn)
    return m_out, G


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def adaptive_feedback(delta, pred, lam, tanh_out, has_tanh, route, y, scale, xx, tiny, one):
    """The mixture's feedback and the adaptive lambda's per-sample terms, in one pass.

    Returns m (W, B, n), Gcat (W, B, 3K) = [G of m | G_bp | U = G_sg - G_bp] where G_bp, G_sg are
    the slot feedbacks of BP's and SG's signals at the routed output scaled to unit length;
    bias_sums (W, 3, M*n), the batch sums of the slot-map parts of the three blocks; and per
    sample uu = |u_i|^2, wu = <w_i, u_i> of the per-sample parameter gradients (xx = |x_i|^2).
    G of m is lam |a| G_bp + (1 - lam) |c| G_sg (the feedback is linear in its input).
    `one` is 1 in the arrays' dtype (keeps the arithmetic in that dtype).
    """
    W, B, M, n = y.shape
    mn = M * n
    K = mn + M
    zero = one - one
    m_out = np.empty((W, B, n), dtype=delta.dtype)
    Gcat = np.empty((W, B, 3 * K), dtype=delta.dtype)
    bias_sums = np.zeros((W, 3, mn))
    uu = np.empty((W, B))
    wu = np.empty((W, B))
    a = np.empty(n, dtype=delta.dtype)
    c = np.empty(n, dtype=delta.dtype)
    ra = np.empty(M, dtype=delta.dtype)
    rc = np.empty(M, dtype=delta.dtype)
    acc = np.empty(3 * mn, dtype=delta.dtype)
    for w in range(W):
        lw = lam[w]
        acc[:] = zero
        for b in range(B):
            na = zero
            nc = zero
            for j in range(n):
                dj = delta[w, b, j]
                pj = pred[w, b, j]
                m_out[w, b, j] = lw * dj + (one - lw) * pj
                f = one
                if has_tanh:
                    t = tanh_out[w, b, j]
                    f = one - t * t
                a[j] = dj * f
                c[j] = pj * f
                na += a[j] * a[j]
                nc += c[j] * c[j]
            na = max(np.sqrt(na), tiny)
            nc = max(np.sqrt(nc), tiny)
            ia = one / na
            ic = one / nc
            for j in range(n):
                a[j] *= ia
                c[j] *= ic
            ka = lw * na
            kc = (one - lw) * nc
            s_uu = zero
            s_wu = zero
            b_uu = zero
            b_wu = zero
            ma = zero
            mc = zero
            for m in range(M):
                r = route[w, b, m]
                s1 = zero
                s2 = zero
                for j in range(n):
                    t = y[w, b, m, j]
                    s1 += a[j] * t
                    s2 += c[j] * t
                    q = r * (one - t * t)
                    g1 = q * a[j]
                    g2 = q * c[j]
                    u = g2 - g1
                    gm = ka * g1 + kc * g2
                    k = m * n + j
                    Gcat[w, b, k] = gm
                    Gcat[w, b, K + k] = g1
                    Gcat[w, b, 2 * K + k] = u
                    b_uu += u * u
                    b_wu += g1 * u
                ra[m] = s1
                rc[m] = s2
                ma += r * s1
                mc += r * s2
            for m in range(M):
                r = route[w, b, m]
                g1 = scale * r * (ra[m] - ma)
                g2 = scale * r * (rc[m] - mc)
                u = g2 - g1
                k = mn + m
                Gcat[w, b, k] = ka * g1 + kc * g2
                Gcat[w, b, K + k] = g1
                Gcat[w, b, 2 * K + k] = u
                s_uu += u * u
                s_wu += g1 * u
            uu[w, b] = (s_uu + b_uu) * xx[w, b] + b_uu
            wu[w, b] = (s_wu + b_wu) * xx[w, b] + b_wu
        # the bias sums over the batch, from the neuron's rows while they are in cache
        for b in range(B):
            for i in range(3):
                for k in range(mn):
                    acc[i * mn + k] += Gcat[w, b, i * K + k]
        for i in range(3):
            for k in range(mn):
                bias_sums[w, i, k] = acc[i * mn + k]
    return m_out, Gcat, bias_sums, uu, wu


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def route_outer(route, dpred):
    """H (W, B, M*n) with H[w, b, m*n + j] = route[w, b, m] * dpred[w, b, j]."""
    W, B, M = route.shape
    n = dpred.shape[2]
    H = np.empty((W, B, M * n), dtype=dpred.dtype)
    for w in range(W):
        for b in range(B):
            for m in range(M):
                r = route[w, b, m]
                for j in range(n):
                    H[w, b, m * n + j] = r * dpred[w, b, j]
    return H
