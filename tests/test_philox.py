"""The counter-based generator of the gaussian / rademacher encoders (csbench.kernels.philox).

Oracles: Random123's known-answer vectors (tests/kat_vectors of
github.com/DEShawResearch/random123, the three ``philox4x32 10`` lines) and an
independent pure-Python Philox4x32-10 written from the paper's description
(key bumped *before* rounds 2..10, a different arrangement from the kernel's).
"""
import math

import numpy as np
import pytest
from scipy import stats

from csbench.kernels import philox as P

# counter (4 words), key (2 words) -> output (4 words); Random123 tests/kat_vectors.
KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


def py_philox(ctr, key, rounds=10):
    """Independent Philox4x32-R in plain Python integers (key bump before each round but the first)."""
    c = list(ctr)
    k = list(key)
    for r in range(rounds):
        if r > 0:
            k = [(k[0] + 0x9E3779B9) % 2**32, (k[1] + 0xBB67AE85) % 2**32]
        p0 = 0xD2511F53 * c[0]
        p1 = 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 % 2**32, (p0 >> 32) ^ c[3] ^ k[1], p0 % 2**32]
    return c


def py_entry(kind, key, i, j):
    """Z[i, j] by the documented recipe, from :func:`py_philox`."""
    if kind == P.GAUSSIAN:
        for a in range(1000):
            w = py_philox([j // 2, a, i % 2**32, i >> 32], key)
            v1 = 2 * ((((w[1] << 32 | w[0]) >> 11) + 0.5) * 2.0**-53) - 1
            v2 = 2 * ((((w[3] << 32 | w[2]) >> 11) + 0.5) * 2.0**-53) - 1
            s = v1 * v1 + v2 * v2
            if 0 < s < 1:
                f = math.sqrt(-2.0 * math.log(s) / s)
                return v1 * f if j % 2 == 0 else v2 * f
        raise AssertionError("no accepted attempt")
    w = py_philox([j // 128, 0, i % 2**32, i >> 32], key)
    t = j % 128
    return 1.0 - 2.0 * ((w[t // 32] >> (t % 32)) & 1)


@pytest.mark.parametrize("ctr,key,want", KAT)
def test_known_answers(ctr, key, want):
    got = P.philox4x32_10(*(np.uint64(v) for v in ctr), *(np.uint64(v) for v in key))
    assert [int(g) for g in got] == list(want)
    assert py_philox(ctr, key) == list(want)  # the oracle itself is right


def test_entries_match_pure_python_oracle():
    key = (0x12345678, 0x9ABCDEF0)
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    rows = [0, 1, 5, 2**32 + 3]  # a row index above 2^32 exercises i_hi
    cols = [0, 1, 2, 127, 128, 129, 999] + list(range(10, 40))  # ~21% of pairs need a second attempt
    for kind in (P.GAUSSIAN, P.RADEMACHER):
        for i in rows:
            seg = np.empty(1000)
            P.fill_segment(kind, k0, k1, i, 0, seg)
            for j in cols:
                want = py_entry(kind, key, i, j)
                assert seg[j] == want, (kind, i, j)
                assert P.entry(kind, k0, k1, i, j) == want


@pytest.mark.parametrize("kind", [P.GAUSSIAN, P.RADEMACHER])
def test_blocks_columns_and_products_agree(kind):
    k0, k1 = np.uint64(7), np.uint64(11)
    m, n = 37, 301  # odd sizes: pairs and 128-bit blocks cut at the edges
    Z = np.empty((m, n))
    P.fill_rows(kind, k0, k1, 0, Z)
    part = np.empty((10, n))
    P.fill_rows(kind, k0, k1, 20, part)
    assert np.array_equal(part, Z[20:30])
    for j0, w in [(0, n), (77, 100), (1, 1), (127, 130)]:
        seg = np.empty(w)
        P.fill_segment(kind, k0, k1, 4, j0, seg)
        assert np.array_equal(seg, Z[4, j0:j0 + w])
    cols = np.array([300, 0, 5, 128, 129, 5], np.int64)
    C = np.empty((m, cols.size))
    P.fill_columns(kind, k0, k1, cols, C)
    assert np.array_equal(C, Z[:, cols])
    rng = np.random.default_rng(0)
    x, r = rng.standard_normal(n), rng.standard_normal(m)
    y = np.empty(m)
    P.matvec_rows(kind, k0, k1, x, 0, y)
    np.testing.assert_allclose(y, Z @ x, rtol=0, atol=1e-12)
    P.matvec_columns(kind, k0, k1, cols, x[:cols.size], 0, y)
    np.testing.assert_allclose(y, Z[:, cols] @ x[:cols.size], rtol=0, atol=1e-12)
    g = np.empty(150)
    P.rmatvec_columns(kind, k0, k1, r, 100, g)
    np.testing.assert_allclose(g, Z[:, 100:250].T @ r, rtol=0, atol=1e-12)


def test_gaussian_distribution():
    # 400 x 500 = 2e5 draws: mean and variance within 5 standard errors, KS against N(0, 1).
    Z = np.empty((400, 500))
    P.fill_rows(P.GAUSSIAN, np.uint64(2026), np.uint64(1), 0, Z)
    z = Z.ravel()
    N = z.size
    assert abs(z.mean()) < 5 / math.sqrt(N)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / N)
    assert abs(stats.kurtosis(z)) < 5 * math.sqrt(24 / N)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    # adjacent columns (the two halves of one Box-Muller pair) are uncorrelated: |r| < 5 / sqrt(N/2)
    assert abs(np.corrcoef(Z[:, 0::2].ravel(), Z[:, 1::2].ravel())[0, 1]) < 5 / math.sqrt(N / 2)
    # rows are independent streams: correlation of consecutive rows
    assert abs(np.corrcoef(Z[:-1].ravel(), Z[1:].ravel())[0, 1]) < 5 / math.sqrt(N)


def test_rademacher_distribution():
    Z = np.empty((200, 1000))
    P.fill_rows(P.RADEMACHER, np.uint64(3), np.uint64(4), 0, Z)
    assert set(np.unique(Z)) == {-1.0, 1.0}
    N = Z.size
    assert abs(Z.mean()) < 5 / math.sqrt(N)
    # each of the 128 bit positions of a block is fair: chi-square of the +1 counts over positions
    pos = (Z[:, :896] > 0).reshape(200, 7, 128).sum(axis=(0, 1))  # 1400 draws per position
    chi2 = float((((pos - 700) ** 2) / 350).sum())  # variance of a count: 1400 / 4
    assert stats.chi2.sf(chi2, 128) > 1e-3
