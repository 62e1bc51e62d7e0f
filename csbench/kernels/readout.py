"""Numba kernel for fitting the trained read-out; see ``csbench.decoders.readouts``.

:func:`surrogate_loss_grad` evaluates the convex surrogate of the read-out's
squared error on N training signals held as CSR arrays, with the scores
written through ``B = E A`` (n, n): ``s_i = c_i + sum_j B_ij x_j + o_i`` (o an
optional dense offset, the noise part ``E z``). Coordinates are independent,
so the loop over coordinates is a ``prange`` and each coordinate sums its
samples in a fixed order: results are bit-identical at any thread count.
Cost O(nnz(X) n) per call, no N x n temporaries unless an offset is given.
"""
from numba import njit, prange


@njit(cache=True, parallel=True)
def surrogate_loss_grad(B, c, indptr, indices, data, offset, loss, gB, gc, G):
    """Per-coordinate loss and gradients of ``sum_s l(s_si, x_si)`` (no 1/N or 1/2 factors).

    ``l = (s - x)^2`` if ``x > 0`` else ``(max(s, 0) - x)^2``; ``r`` is the residual
    (``s - x`` or ``max(s, 0) - x``) and ``g = r`` where ``x > 0`` or ``s > 0``,
    else 0. Writes ``loss[i] = sum_s r_si^2``, ``gB[i, j] = sum_s g_si x_sj``,
    ``gc[i] = sum_s g_si`` and, when ``offset`` has N rows, ``G[s, i] = g_si``
    (else ``offset`` and ``G`` have 0 rows).
    """
    n = B.shape[0]
    N = indptr.size - 1
    dense = offset.shape[0] == N
    for i in prange(n):
        acc = 0.0
        gsum = 0.0
        for j in range(n):
            gB[i, j] = 0.0
        for s in range(N):
            z = c[i]
            xi = 0.0
            for p in range(indptr[s], indptr[s + 1]):
                j = indices[p]
                z += B[i, j] * data[p]
                if j == i:
                    xi = data[p]
            if dense:
                z += offset[s, i]
            if xi > 0.0:
                r = z - xi
                g = r
            else:
                r = max(z, 0.0) - xi
                g = r if z > 0.0 else 0.0
            acc += r * r
            if dense:
                G[s, i] = g
            if g != 0.0:
                gsum += g
                for p in range(indptr[s], indptr[s + 1]):
                    gB[i, indices[p]] += g * data[p]
        loss[i] = acc
        gc[i] = gsum
