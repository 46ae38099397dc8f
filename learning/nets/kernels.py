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


@njit(cache=True, error_model="numpy")
def _slot_tanh64(pre, bias, y):
    W, B, _ = pre.shape
    mn = y.shape[2]
    for w in range(W):
        for b in range(B):
            for k in range(mn):
                y[w, b, k] = math.tanh(pre[w, b, k] + bias[w, k])


def slot_tanh(pre, bias):
    """y (W, B, M, n) = tanh(pre[..., :M*n] + bias) with libm's tanh (float64; float32 is fused into
    routed_forward32)."""
    W, B, _ = pre.shape
    M, n = bias.shape[1], bias.shape[2]
    y = np.empty((W, B, M * n), dtype=pre.dtype)
    _slot_tanh64(pre, bias.reshape(W, M * n), y)
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


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def exp32_block(z, out, bits):
    """out = exp(z) for float32 z (relative error below 2e-7): Cody-Waite reduction to r = z - k ln 2,
    Cephes' polynomial for exp(r), and 2^k from its exponent bits (`bits`, int32 scratch of z's
    length). Both loops vectorise, where libm's exp does not. Below -87.34 it returns exp(-87.34),
    about 1.2e-38 (the smallest normal float32), not 0."""
    scale = bits.view(np.float32)
    for i in range(z.shape[0]):
        x = min(max(z[i], np.float32(-87.33654)), np.float32(88.3762626647949))
        k = np.floor(x * np.float32(1.44269504088896341) + np.float32(0.5))
        r = x - k * np.float32(0.693359375) + k * np.float32(2.12194440e-4)
        p = np.float32(1.9875691500e-4)
        p = p * r + np.float32(1.3981999507e-3)
        p = p * r + np.float32(8.3334519073e-3)
        p = p * r + np.float32(4.1665795894e-2)
        p = p * r + np.float32(1.6666665459e-1)
        p = p * r + np.float32(5.0000001201e-1)
        out[i] = p * (r * r) + r + np.float32(1)
        bits[i] = (np.int32(k) + np.int32(127)) << 23
    for i in range(z.shape[0]):
        out[i] *= scale[i]


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def routed_forward32(pre, bias, scale, out, route, y):
    """routed_forward in float32 into out (W, B, n), route (W, B, M), y (W, B, M*n), one pass per neuron:
    the routing softmax with exp32_block and the slot outputs with tanh32, each over all its samples
    at once, then their routed sum. bias (W, M, n)."""
    W, B, _ = pre.shape
    M, n = bias.shape[1], bias.shape[2]
    mn = M * n
    z = np.empty(B * M, dtype=np.float32)
    e = np.empty(B * M, dtype=np.float32)
    bits = np.empty(B * M, dtype=np.int32)
    flat_bias = bias.reshape(W, mn)
    for w in range(W):
        for b in range(B):
            top = pre[w, b, mn] * scale
            for m in range(1, M):
                top = max(top, pre[w, b, mn + m] * scale)
            for m in range(M):
                z[b * M + m] = pre[w, b, mn + m] * scale - top
            for k in range(mn):
                y[w, b, k] = pre[w, b, k] + flat_bias[w, k]
        exp32_block(z, e, bits)
        yw = y[w].reshape(B * mn)  # tanh over the neuron's whole block: one long loop that vectorises
        for i in range(B * mn):
            yw[i] = tanh32(yw[i])
        for b in range(B):
            total = np.float32(0)
            for m in range(M):
                total += e[b * M + m]
            for m in range(M):
                route[w, b, m] = e[b * M + m] / total
            for j in range(n):
                out[w, b, j] = 0
            for m in range(M):
                r = route[w, b, m]
                for j in range(n):
                    out[w, b, j] += r * y[w, b, m * n + j]


def routed_forward(pre, bias, scale):
    """pre (W, B, M*n + M) = x @ weights^T -> out (W, B, n), route (W, B, M), y (W, B, M, n).
    float32: exp32 and tanh32 in one fused pass (routed_forward32); float64: libm's exp and tanh."""
    W, B, _ = pre.shape
    M, n = bias.shape[1], bias.shape[2]
    if pre.dtype == np.float32:
        out, route, y = np.empty((W, B, n), np.float32), np.empty((W, B, M), np.float32), np.empty((W, B, M, n), np.float32)
        routed_forward32(pre, bias, np.float32(scale), out, route, y.reshape(W, B, M * n))
        return out, route, y
    y = slot_tanh(pre, bias)
    out, route = _route_and_mix(pre, y, pre.dtype.type(scale))
    return out, route, y


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def routed_feedback_into(dout, route, y, scale, G, col, bias_sum):
    """d out (W, B, n) -> G[:, col:col+B] (G: (W, >= col+B, M*n + M)): d z of the slot maps, then scale *
    d logits of the routing; the slot-map part is also added, summed over the batch, to bias_sum (W, M*n),
    or to nothing when bias_sum is (W, 0)."""
    W, B, M, n = y.shape
    mn = M * n
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
                    G[w, col + b, m * n + j] = r * g * (1.0 - t * t)
                dr[m] = s
                mean += r * s
            for m in range(M):
                G[w, col + b, mn + m] = scale * route[w, b, m] * (dr[m] - mean)
            for k in range(bias_sum.shape[1]):
                bias_sum[w, k] += G[w, col + b, k]


def routed_feedback(dout, route, y, scale):
    """d out (W, B, n) -> G (W, B, M*n + M): d z of the slot maps, then scale * d logits of the routing."""
    W, B, M, n = y.shape
    G = np.empty((W, B, M * n + M), dtype=y.dtype)
    routed_feedback_into(dout, route, y, float(scale), G, 0, np.zeros((W, 0), y.dtype))  # bias summed by the caller
    return G


@njit(cache=True)
def gather_rows_into(h, parents, x, col):
    """h (pool, B, n), parents (C, k) -> x[:, col:col+B, :k*n] (x: (C, >= col+B, >= k*n)): child c reads
    rows parents[c] in order."""
    C, k = parents.shape
    _, B, n = h.shape
    for c in range(C):
        for p in range(k):
            i = parents[c, p]
            for b in range(B):
                for j in range(n):
                    x[c, col + b, p * n + j] = h[i, b, j]


def gather_rows(h, parents):
    """h (pool, B, n), parents (C, k) -> x (C, B, k*n): child c reads rows parents[c] in order."""
    x = np.empty((parents.shape[0], h.shape[1], parents.shape[1] * h.shape[2]), dtype=h.dtype)
    gather_rows_into(h, parents, x, 0)
    return x


@njit(cache=True)
def gather_columns(x0, columns):
    """x0 (B, d), columns (C, q) -> x (C, B, q) with x[c, b, i] = x0[b, columns[c, i]]."""
    C, q = columns.shape
    B = x0.shape[0]
    x = np.empty((C, B, q), dtype=x0.dtype)
    for c in range(C):
        for b in range(B):
            for i in range(q):
                x[c, b, i] = x0[b, columns[c, i]]
    return x


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def _residual_tanh32(out, h_prev, t, h):
    W, B, n = out.shape
    for w in range(W):
        for b in range(B):
            for j in range(n):
                v = tanh32(out[w, b, j])
                t[w, b, j] = v
                h[w, b, j] = v + h_prev[w, b, j]


@njit(cache=True, error_model="numpy")
def _residual_tanh64(out, h_prev, t, h):
    W, B, n = out.shape
    for w in range(W):
        for b in range(B):
            for j in range(n):
                v = math.tanh(out[w, b, j])
                t[w, b, j] = v
                h[w, b, j] = v + h_prev[w, b, j]


def residual_tanh(out, h_prev):
    """t = tanh(out), h = t + h_prev (SparseNet's residual layers): exact tanh in float64, tanh32 in float32."""
    t, h = np.empty_like(out), np.empty_like(out)
    (_residual_tanh32 if out.dtype == np.float32 else _residual_tanh64)(out, h_prev, t, h)
    return t, h


@njit(cache=True)
def scatter_rows_add(dx, parents, n, out):
    """out (pool, B, n) += the parents' parts of dx (C, B, >= k*n): child c's columns p*n .. p*n+n-1 go
    to row parents[c, p] (the adjoint of gather_rows)."""
    C, k = parents.shape
    B = dx.shape[1]
    for c in range(C):
        for p in range(k):
            i = parents[c, p]
            for b in range(B):
                for j in range(n):
                    out[i, b, j] += dx[c, b, p * n + j]


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
def _columns(route, y, w, rT, yT):
    """Neuron w's routing weights and slot outputs with the samples along the last axis:
    route[w] (B, M) -> rT (M, B), y[w] (B, M, n) -> yT (M*n, B)."""
    _, B, M, n = y.shape
    for m in range(M):
        for b in range(B):
            rT[m, b] = route[w, b, m]
    for m in range(M):
        for j in range(n):
            for b in range(B):
                yT[m * n + j, b] = y[w, b, m, j]


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def mixed_feedback(delta, pred, lam, tanh_out, has_tanh, route, y, scale):
    """m = lam delta + (1 - lam) pred at h_l (lam per neuron), and GT (W, K, B), the slot feedback
    of m with the samples along the last axis (so that every loop over them vectorises).

    has_tanh: layer l >= 2, where h_l = tanh(out_l) + h_{l-1} and the feedback reaching the
    routed output is m * (1 - tanh_out^2).
    """
    W, B, M, n = y.shape
    mn = M * n
    dt = delta.dtype
    one = dt.type(1)
    m_out = np.empty((W, B, n), dtype=dt)
    GT = np.empty((W, mn + M, B), dtype=dt)
    dT = np.empty((n, B), dtype=dt)
    yT = np.empty((mn, B), dtype=dt)
    rT = np.empty((M, B), dtype=dt)
    s = np.empty((M, B), dtype=dt)
    mean = np.empty(B, dtype=dt)
    for w in range(W):
        lw = lam[w]
        for j in range(n):
            for b in range(B):
                mj = lw * delta[w, b, j] + (one - lw) * pred[w, b, j]
                m_out[w, b, j] = mj
                dT[j, b] = mj
        if has_tanh:
            for j in range(n):
                for b in range(B):
                    t = tanh_out[w, b, j]
                    dT[j, b] *= one - t * t
        _columns(route, y, w, rT, yT)
        for b in range(B):
            mean[b] = 0
        for m in range(M):
            for b in range(B):
                s[m, b] = 0
            for j in range(n):
                k = m * n + j
                for b in range(B):
                    t = yT[k, b]
                    s[m, b] += dT[j, b] * t
                    GT[w, k, b] = rT[m, b] * dT[j, b] * (one - t * t)
            for b in range(B):
                mean[b] += rT[m, b] * s[m, b]
        for m in range(M):
            for b in range(B):
                GT[w, mn + m, b] = scale * rT[m, b] * (s[m, b] - mean[b])
    return m_out, GT


@njit(cache=True, inline="always", fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def _three_blocks(GT, w, K, k, b, ka, kc, g1, g2):
    """Row k, sample b of the three blocks of adaptive_feedback: the mixture ka g1 + kc g2, BP's g1 and
    U = g2 - g1 (returned)."""
    u = g2 - g1
    GT[w, k, b] = ka * g1 + kc * g2
    GT[w, K + k, b] = g1
    GT[w, 2 * K + k, b] = u
    return u


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def adaptive_feedback(delta, pred, lam, tanh_out, has_tanh, route, y, scale, x, tiny, one, m_out, GT, bias_sums, uu, wu):
    """The mixture's feedback and the adaptive lambda's per-sample terms, in one pass.

    Writes m_out (W, B, n); GT (W, 3K, B), the three slot feedbacks [G of m | G_bp | U = G_sg - G_bp]
    with the samples along the last axis, where G_bp, G_sg are the slot feedbacks of BP's and SG's
    signals at the routed output scaled to unit length; bias_sums (W, 3, M*n), the batch sums of
    the slot-map parts of the three blocks; and per sample uu = |u_i|^2, wu = <w_i, u_i> of the
    per-sample parameter gradients (x: the layer's input). G of m is lam |a| G_bp + (1 - lam) |c| G_sg (the
    feedback is linear in its input). Samples innermost, so every loop over them vectorises and
    GT @ x gives the batch sums directly. `one` is 1 in the arrays' dtype (keeps the arithmetic in it).
    """
    W, B, M, n = y.shape
    D = x.shape[2]
    mn = M * n
    K = mn + M
    zero = one - one
    dt = delta.dtype
    xx = np.empty(B)
    xrow = np.empty(D, dtype=x.dtype)
    aT = np.empty((n, B), dtype=dt)  # BP's and SG's unit signals, a sample per column
    cT = np.empty((n, B), dtype=dt)
    yT = np.empty((mn, B), dtype=dt)
    rT = np.empty((M, B), dtype=dt)
    ka = np.empty(B, dtype=dt)
    kc = np.empty(B, dtype=dt)
    s1 = np.empty((M, B), dtype=dt)
    s2 = np.empty((M, B), dtype=dt)
    buu = np.empty(B, dtype=dt)
    bwu = np.empty(B, dtype=dt)
    suu = np.empty(B, dtype=dt)
    swu = np.empty(B, dtype=dt)
    ma = np.empty(B, dtype=dt)
    mc = np.empty(B, dtype=dt)
    na = np.empty(B, dtype=dt)
    nc = np.empty(B, dtype=dt)
    for w in range(W):
        lw = lam[w]
        for b in range(B):
            na[b] = zero
            nc[b] = zero
        for j in range(n):
            for b in range(B):
                dj = delta[w, b, j]
                pj = pred[w, b, j]
                m_out[w, b, j] = lw * dj + (one - lw) * pj
                aT[j, b] = dj
                cT[j, b] = pj
        if has_tanh:
            for j in range(n):
                for b in range(B):
                    t = tanh_out[w, b, j]
                    f = one - t * t
                    aT[j, b] *= f
                    cT[j, b] *= f
        for j in range(n):
            for b in range(B):
                na[b] += aT[j, b] * aT[j, b]
                nc[b] += cT[j, b] * cT[j, b]
        for b in range(B):
            nb = max(np.sqrt(na[b]), tiny)
            nd = max(np.sqrt(nc[b]), tiny)
            ka[b] = lw * nb
            kc[b] = (one - lw) * nd
            na[b] = one / nb
            nc[b] = one / nd
        for j in range(n):
            for b in range(B):
                aT[j, b] *= na[b]
                cT[j, b] *= nc[b]
        _columns(route, y, w, rT, yT)
        for b in range(B):
            for d in range(D):
                xrow[d] = x[w, b, d]  # a contiguous copy: the sum then rounds alike for a strided x
            total = 0.0
            for d in range(D):
                v = np.float64(xrow[d])
                total += v * v
            xx[b] = total
        for b in range(B):
            buu[b] = zero
            bwu[b] = zero
            ma[b] = zero
            mc[b] = zero
            suu[b] = zero
            swu[b] = zero
        for m in range(M):
            for b in range(B):
                s1[m, b] = zero
                s2[m, b] = zero
            for j in range(n):
                k = m * n + j
                for b in range(B):
                    t = yT[k, b]
                    av = aT[j, b]
                    cv = cT[j, b]
                    s1[m, b] += av * t
                    s2[m, b] += cv * t
                    q = rT[m, b] * (one - t * t)
                    g1 = q * av
                    u = _three_blocks(GT, w, K, k, b, ka[b], kc[b], g1, q * cv)
                    buu[b] += u * u
                    bwu[b] += g1 * u
            for b in range(B):
                ma[b] += rT[m, b] * s1[m, b]
                mc[b] += rT[m, b] * s2[m, b]
        for m in range(M):
            k = mn + m
            for b in range(B):
                r = scale * rT[m, b]
                g1 = r * (s1[m, b] - ma[b])
                u = _three_blocks(GT, w, K, k, b, ka[b], kc[b], g1, r * (s2[m, b] - mc[b]))
                suu[b] += u * u
                swu[b] += g1 * u
        for b in range(B):
            uu[w, b] = (suu[b] + buu[b]) * xx[b] + buu[b]
            wu[w, b] = (swu[b] + bwu[b]) * xx[b] + bwu[b]
        for i in range(3):
            for k in range(mn):
                s = zero
                for b in range(B):
                    s += GT[w, i * K + k, b]
                bias_sums[w, i, k] = s


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def plugin_batch_sums(S, lo, bias_sums):
    """Per neuron, |sum_i u_i|^2 and <sum_i w_i, sum_i u_i> of the batch-summed per-sample gradients,
    in float64: S (W, R, D) holds the weight parts, Sw = S[:, lo:lo+K], Su = S[:, lo+K:lo+2K] with
    K = (R - lo) / 2; bias_sums (W, 3, M*n) their bias parts in blocks 1 (w) and 2 (u)."""
    W, R, D = S.shape
    K = (R - lo) // 2
    mn = bias_sums.shape[2]
    uu = np.empty(W)
    wu = np.empty(W)
    for w in range(W):
        a = 0.0
        c = 0.0
        for k in range(K):
            for d in range(D):
                sw = np.float64(S[w, lo + k, d])
                su = np.float64(S[w, lo + K + k, d])
                a += su * su
                c += sw * su
        for k in range(mn):
            a += bias_sums[w, 2, k] * bias_sums[w, 2, k]
            c += bias_sums[w, 1, k] * bias_sums[w, 2, k]
        uu[w] = a
        wu[w] = c
    return uu, wu


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def route_outer(route, dpred):
    """H (W, B, M*n) with H[w, b, m*n + j] = route[w, b, m] * dpred[w, b, j], and H summed over the batch (W, M*n)."""
    W, B, M = route.shape
    n = dpred.shape[2]
    H = np.empty((W, B, M * n), dtype=dpred.dtype)
    total = np.zeros((W, M * n), dtype=dpred.dtype)
    for w in range(W):
        for b in range(B):
            for m in range(M):
                r = route[w, b, m]
                for j in range(n):
                    h = r * dpred[w, b, j]
                    H[w, b, m * n + j] = h
                    total[w, m * n + j] += h
    return H, total


@njit(cache=True, fastmath={"contract", "reassoc", "nsz"}, error_model="numpy")
def scaled_error(pred, target, coef):
    """(coef * (pred - target), the sum of (pred - target)^2 in float64), in one pass."""
    p, t = pred.reshape(-1), target.reshape(-1)
    out = np.empty_like(p)
    total = 0.0
    for i in range(p.shape[0]):
        e = p[i] - t[i]
        total += np.float64(e) * np.float64(e)
        out[i] = coef * e
    return out.reshape(pred.shape), total
