"""Exact expectations over uniformly random orders of tied items.

With ``tie_break='average'`` every query's ranking puts the items of each
Hamming distance bucket in a uniformly random order, independently per
query, and a metric reports its exact expected value under that
randomness. Everything is computed from per-query, per-distance counts
(``n_d`` items and ``r_d`` relevant items at distance ``d``) in ``O(B)``
per query, plus one short sum where a cut-off falls inside a bucket.

Derivation (positions are 1-based; ``C``/``R`` count all/relevant items in
the buckets before the one considered):

* A bucket of ``n`` items (``r`` relevant) fully inside the list: the item
  at position ``C + j`` is relevant with probability ``r / n``; given that,
  the other ``r - 1`` relevant items of the bucket fall before it with
  expected count ``(j - 1)(r - 1)/(n - 1)``. So the expected sum of
  precision-at-hit terms is::

      E = (r/n) * [(R + 1) * S1(C, n) + (r - 1)/(n - 1) * S2(C, n)]
      S1(C, n) = sum_{j=1..n} 1/(C + j) = psi(C + n + 1) - psi(C + 1)
      S2(C, n) = sum_{j=1..n} (j - 1)/(C + j) = n - (C + 1) * S1(C, n)

* A cut-off ``K`` inside a bucket (``m = K - C`` of its ``n`` items are
  kept): the number ``X`` of relevant items kept is hypergeometric, and
  given ``X = x`` the kept items are a uniform arrangement, so the same
  formula applies with ``(m, x)`` in place of ``(n, r)``. AP@K divides by
  the random ``R + X``, so it is summed exactly over the support of ``X``::

      E[AP@K] = sum_x p(x) * (A + E[T | x]) / (R + x)     (R + x > 0)

  with ``A`` the expected sum of the complete buckets before (independent
  of ``X``). Nothing here is approximated; the only numerical work is the
  digamma difference (asymptotic series after an exact shift, relative
  error ~1e-15) and the hypergeometric weights (ratio recurrence in log
  space, normalized).
"""
from typing import Tuple

import numpy as np

# psi(y) ~ ln y - 1/(2y) - sum_k B_2k / (2k y^2k); we shift y >= 20 so the
# first omitted term, 5 / (660 y^10), is below 1e-15.
_SHIFT = 20


def digamma_difference(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``psi(x + n) - psi(x)`` for ``x >= 1`` and ``n >= 0``, elementwise.

    Computed without subtracting two large digamma values: the shift terms
    ``n / ((x + i)(x + n + i))`` are exact differences, and the asymptotic
    series is differenced term by term.

    Args:
        x: Float array, ``>= 1``.
        n: Non-negative array broadcastable with ``x``.

    Returns:
        Float64 array.
    """
    x = np.asarray(x, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros(np.broadcast(x, n).shape)
    for i in range(_SHIFT):
        out += n / ((x + i) * (x + n + i))
    y = x + _SHIFT
    z = y + n
    a, b = 1.0 / (y * y), 1.0 / (z * z)
    d1 = n * (y + z) * a * b  # a - b without cancellation
    out += np.log1p(n / y) + n / (2.0 * y * z)
    out += d1 / 12.0
    out -= d1 * (a + b) / 120.0
    out += d1 * (a * a + a * b + b * b) / 252.0
    out -= d1 * (a + b) * (a * a + b * b) / 240.0
    return out


def bucket_sums(before: np.ndarray,
                count: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``S1`` and ``S2`` of a run of positions ``before + 1 .. before +
    count`` (see the module docstring)."""
    before = np.asarray(before, dtype=np.float64)
    count = np.asarray(count, dtype=np.float64)
    s1 = digamma_difference(before + 1.0, count)
    s2 = count - (before + 1.0) * s1
    # S2 is a sum of non-negative terms; clip rounding noise below zero.
    return s1, np.maximum(s2, 0.0)


def expected_bucket_terms(hist_all: np.ndarray,
                          hist_rel: np.ndarray) -> np.ndarray:
    """Expected sum of ``hits / position`` over the relevant items of each
    distance bucket when the whole bucket is in the list.

    Args:
        hist_all: ``(b, B + 1)`` items per distance.
        hist_rel: ``(b, B + 1)`` relevant items per distance.

    Returns:
        ``(b, B + 1)`` float64 expectations.
    """
    n = hist_all.astype(np.float64)
    r = hist_rel.astype(np.float64)
    before = np.cumsum(hist_all, axis=1) - hist_all
    rel_before = np.cumsum(hist_rel, axis=1) - hist_rel
    s1, s2 = bucket_sums(before, n)
    with np.errstate(invalid='ignore', divide='ignore'):
        share = np.where(n > 0, r / n, 0.0)
        pair = np.where(n > 1, (r - 1) / (n - 1), 0.0)
    return share * ((rel_before + 1) * s1 + np.maximum(pair, 0.0) * s2)


def _hypergeom_moments(n, r, m, rel_before, max_cells: int = 1 << 22):
    """``J_k = E[X^(k) / (R + X); R + X > 0]`` for ``k = 0, 1, 2`` (falling
    powers ``1, x, x(x - 1)``) and ``P(X = 0)``, with ``X`` hypergeometric:
    ``m`` draws from ``n`` items of which ``r`` are relevant."""
    lo = np.maximum(0, m - (n - r))
    hi = np.minimum(r, m)
    width = hi - lo + 1
    out = np.zeros((4, len(n)))
    order = np.argsort(width, kind='stable')  # similar widths per chunk
    start = 0
    while start < len(order):
        stop = start + 1
        while stop < len(order) and \
                (stop + 1 - start) * width[order[stop]] <= max_cells:
            stop += 1
        rows = order[start:stop]
        out[:, rows] = _moments_chunk(n[rows], r[rows], m[rows],
                                      rel_before[rows], lo[rows], width[rows])
        start = stop
    return out


def _moments_chunk(n, r, m, rel_before, lo, width):
    steps = np.arange(int(width.max()))
    x = (lo[:, None] + steps).astype(np.float64)
    valid = steps < width[:, None]
    n, r, m = (v[:, None].astype(np.float64) for v in (n, r, m))
    # log p(x + 1) - log p(x) = log[(r - x)(m - x)] - log[(x + 1)(n - r -
    # m + x + 1)]; both factors are >= 1 inside the support.
    num = np.maximum((r - x) * (m - x), 1.0)
    den = np.maximum((x + 1) * (n - r - m + x + 1), 1.0)
    step = np.where(steps[None, :-1] < width[:, None] - 1,
                    np.log(num[:, :-1]) - np.log(den[:, :-1]), 0.0)
    logp = np.zeros_like(x)
    np.cumsum(step, axis=1, out=logp[:, 1:])
    logp = np.where(valid, logp, -np.inf)
    p = np.exp(logp - logp.max(axis=1, keepdims=True))
    last = (np.arange(len(x)), width - 1)
    # Sums run left to right (cumsum) so that the result does not depend on
    # how much padding the chunk has, i.e. on how queries were blocked.
    p /= np.cumsum(p, axis=1)[last][:, None]
    total = rel_before[:, None] + x
    inv = np.where(valid & (total > 0), 1.0 / np.maximum(total, 1.0), 0.0)
    pinv = p * inv
    p_zero = np.where(lo == 0, p[:, 0], 0.0)
    return (np.cumsum(pinv, axis=1)[last], np.cumsum(pinv * x, axis=1)[last],
            np.cumsum(pinv * x * (x - 1), axis=1)[last], p_zero)


def expected_ap(hist_all: np.ndarray, hist_rel: np.ndarray,
                cutoff: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Expected AP of the top ``cutoff`` items and the probability that
    they contain a relevant item, per query.

    AP is the hashing convention (normalized by the relevant items
    retrieved; 0 when none is), so its expectation is also the expected
    value of ``zero_hit='zero'`` AP.

    Args:
        hist_all: ``(b, B + 1)`` items per distance.
        hist_rel: ``(b, B + 1)`` relevant items per distance.
        cutoff: ``(b,)`` list lengths ``K`` in ``0..N``.

    Returns:
        ``(expected_ap, p_hit)``, two ``(b,)`` float64 arrays.
    """
    cutoff = np.asarray(cutoff, dtype=np.int64)
    b = len(hist_all)
    ap = np.zeros(b)
    p_hit = np.zeros(b)
    active = np.flatnonzero(cutoff > 0)
    if not len(active):
        return ap, p_hit
    h_all, h_rel, k = hist_all[active], hist_rel[active], cutoff[active]
    cum = np.cumsum(h_all, axis=1)
    terms = expected_bucket_terms(h_all, h_rel)
    rows = np.arange(len(active))
    d = (cum < k[:, None]).sum(axis=1)  # bucket holding position k
    before = cum[rows, d] - h_all[rows, d]
    rel_before = (np.cumsum(h_rel, axis=1) - h_rel)[rows, d]
    prior = (np.cumsum(terms, axis=1) - terms)[rows, d]
    n, r, m = h_all[rows, d], h_rel[rows, d], k - before
    j0, j1, j2, p_zero = _hypergeom_moments(n, r, m, rel_before)
    s1, s2 = bucket_sums(before, m)
    mf = m.astype(np.float64)
    with np.errstate(invalid='ignore', divide='ignore'):
        pair = np.where(m > 1, s2 / (mf * (mf - 1)), 0.0)
    ap[active] = prior * j0 + (rel_before + 1) * s1 / mf * j1 + pair * j2
    p_hit[active] = np.where(rel_before > 0, 1.0, 1.0 - p_zero)
    return ap, p_hit


def exclusion_weights(p_hit: np.ndarray) -> np.ndarray:
    """Weights ``w`` with ``E[mean of AP over queries with a hit] =
    sum_q E[AP_q] * w_q`` when queries' tie orders are independent.

    ``w_q = E[1 / (1 + number of other queries with a hit)]``, the number
    of other hits being Poisson-binomial (exact dynamic programme, with a
    numerically stable leave-one-out division). A draw in which no query
    has a hit contributes 0 (the mean over no query is reported as 0).

    Args:
        p_hit: ``(Q,)`` probability that each query has a relevant item in
            its list.

    Returns:
        ``(Q,)`` float64 weights (0 where ``p_hit == 0``).
    """
    p_hit = np.asarray(p_hit, dtype=np.float64)
    weights = np.zeros(len(p_hit))
    certain = p_hit >= 1.0
    unsure = np.flatnonzero((p_hit > 0) & ~certain)
    num_certain = int(certain.sum())
    probs = p_hit[unsure]
    pmf = np.ones(1)  # distribution of the number of unsure hits
    for p in probs:
        pmf = np.append(pmf * (1 - p), 0.0) + np.append(0.0, pmf * p)
    counts = np.arange(len(pmf), dtype=np.float64)
    if num_certain:
        weights[certain] = (pmf / (num_certain + counts)).sum()
    if len(unsure):
        weights[unsure] = _leave_one_out_weights(pmf, probs, num_certain)
    return weights


def _leave_one_out_weights(pmf, probs, num_certain):
    """``sum_k pmf_without_q[k] / (num_certain + 1 + k)`` for every q."""
    size = len(pmf) - 1  # outcomes of the other queries: 0 .. size - 1
    out = np.zeros(len(probs))
    fwd = probs <= 0.5  # divide forward where it is stable, else backward
    p = probs[fwd]
    prev = np.zeros(len(p))
    acc = np.zeros(len(p))
    for k in range(size):
        prev = (pmf[k] - p * prev) / (1 - p)
        acc += prev / (num_certain + 1 + k)
    out[fwd] = acc
    p = probs[~fwd]
    nxt = np.zeros(len(p))
    acc = np.zeros(len(p))
    for k in range(size, 0, -1):
        nxt = (pmf[k] - (1 - p) * nxt) / p
        acc += nxt / (num_certain + k)
    out[~fwd] = acc
    return out
