"""Precision and recall: within a Hamming radius, at the top N, and the two
kinds of PR curve.

* Within radius r (TAH ``hamming_radius2`` for r = 2): the list is every
  item at distance ``<= r``. Precision = relevant in ball / items in ball,
  **0 for an empty ball**; recall = relevant in ball / relevant in the
  database, 0 for a query without relevant items. Ties do not matter.
* At the top N: precision@N = relevant in the top ``n`` / ``n`` and
  recall@N = relevant in the top ``n`` / relevant in the database, with
  ``n = min(N, database size)``. Ties follow ``tie_break``; with
  ``'average'`` the values are exact expectations (linear in the number
  of relevant items kept from the bucket that position N cuts).
* PR curve by radius: the radius metrics at every ``r = 0..B``
  (thulab DeepHash ``get_precision_recall_by_Hamming_Radius``, TAH).
* PR curve by number retrieved: the top-N metrics at a list of N
  (DeepHash-pytorch ``precision_recall_curve.py``, FIRe ``pr_curve``).

Every value is averaged over all queries.
"""
from typing import Optional, Sequence, Tuple

import numpy as np

from .codes import ArrayLike
from .engine import run_request
from .ranking import check_tie_break, prefix_cutoff
from .stats import (PerQueryRequest, check_radius, cumulative, safe_divide)

#: Default N of :func:`pr_curve_by_topn` (clipped to the database size).
DEFAULT_TOPN = (1, 5, 10, 20, 50, 100, 200, 300, 500, 700, 1000)


class RadiusPRRequest(PerQueryRequest):
    """Precision/recall within Hamming radii.

    Args:
        radii: Radii to report as ``'P@H<=r'``/``'R@H<=r'``; ``None``
            reports the whole curve ``r = 0..B`` as ``'pr_by_radius'``.
    """

    def __init__(self, radii: Optional[Sequence[int]] = None):
        super().__init__()
        self.radii = None if radii is None else \
            [check_radius(r) for r in radii]
        self.num_bits = None

    def per_query(self, stats):
        self.num_bits = stats.hist_all.shape[1] - 1
        radii = np.arange(self.num_bits + 1) if self.radii is None else \
            np.minimum(self.radii, self.num_bits)
        cum_all = cumulative(stats.hist_all)
        cum_rel = cumulative(stats.hist_rel)
        in_ball = cum_rel[:, radii]
        return dict(
            precision=safe_divide(in_ball, cum_all[:, radii]),
            recall=safe_divide(in_ball, cum_rel[:, -1:]))

    def finish(self, values):
        precision = values['precision'].mean(axis=0)
        recall = values['recall'].mean(axis=0)
        if self.radii is None:
            return dict(
                pr_by_radius=dict(
                    radius=np.arange(self.num_bits + 1),
                    precision=precision,
                    recall=recall))
        out = {}
        for i, r in enumerate(self.radii):
            out[f'P@H<={r}'] = float(precision[i])
            out[f'R@H<={r}'] = float(recall[i])
        return out


def relevant_in_top(stats, ns: np.ndarray, tie_break: str) -> np.ndarray:
    """``(b, len(ns))`` (expected) relevant items in the top ``ns``."""
    b = len(stats.hist_all)
    if tie_break == 'index':
        # Ranks are sorted per row: count those below n by binary search on
        # the combined key row * stride + rank.
        stride = stats.num_db + 1
        key = stats.rel_rows * stride + stats.rel_pos
        starts = np.searchsorted(key, np.arange(b) * stride)
        ends = np.searchsorted(key, np.arange(b)[:, None] * stride + ns)
        return (ends - starts[:, None]).astype(np.float64)
    out = np.empty((b, len(ns)))
    rel_before = cumulative(stats.hist_rel) - stats.hist_rel
    rows = np.arange(b)
    for j, n in enumerate(ns):
        bucket, before = prefix_cutoff(stats.hist_all, np.full(b, n))
        size = stats.hist_all[rows, bucket]
        share = safe_divide(stats.hist_rel[rows, bucket], size)
        out[:, j] = rel_before[rows, bucket] + (n - before) * share
    return out


class TopNRequest(PerQueryRequest):
    """Precision/recall at the top N.

    Args:
        ns: The N values.
        tie_break: ``'index'`` or ``'average'``.
        curve: Report ``'pr_by_topn'`` (a curve) instead of ``'P@N'`` and
            ``'R@N'`` scalars.
    """

    def __init__(self,
                 ns: Sequence[int],
                 tie_break: str = 'index',
                 curve: bool = False):
        super().__init__()
        self.ns = [int(n) for n in ns]
        if not self.ns or any(n < 1 for n in self.ns):
            raise ValueError(f'N values must be positive integers; got {ns}')
        self.tie_break = check_tie_break(tie_break)
        self.curve = curve

    def _effective(self, num_db: int) -> np.ndarray:
        return np.minimum(self.ns, num_db)

    def prefix_needed(self, hist_all, hist_rel):
        if self.tie_break != 'index':
            return None
        num_db = int(hist_all[0].sum())
        return np.full(len(hist_all), self._effective(num_db).max())

    def per_query(self, stats):
        ns = self._effective(stats.num_db)
        found = relevant_in_top(stats, ns, self.tie_break)
        return dict(
            precision=found / ns,
            recall=safe_divide(found,
                               stats.hist_rel.sum(axis=1)[:, None]))

    def finish(self, values):
        precision = values['precision'].mean(axis=0)
        recall = values['recall'].mean(axis=0)
        if self.curve:
            return dict(
                pr_by_topn=dict(
                    n=np.array(self.ns), precision=precision, recall=recall))
        out = {}
        for i, n in enumerate(self.ns):
            out[f'P@{n}'] = float(precision[i])
            out[f'R@{n}'] = float(recall[i])
        return out


def precision_recall_within_radius(
        query_codes: ArrayLike,
        db_codes: ArrayLike,
        query_labels: ArrayLike,
        db_labels: ArrayLike,
        radius: int = 2,
        backend: str = 'auto') -> Tuple[float, float]:
    """Mean precision and recall within Hamming radius ``r``.

    Args:
        query_codes: ``(Q, B)`` ±1 codes (numpy or torch).
        db_codes: ``(N, B)`` ±1 codes.
        query_labels: ``(Q,)`` class ids or ``(Q, C)`` 0/1 labels.
        db_labels: ``(N,)`` class ids or ``(N, C)`` 0/1 labels.
        radius: ``r`` (TAH uses 2).
        backend: ``'auto'``, ``'numpy'`` or ``'torch'``.

    Returns:
        ``(precision, recall)``; an empty ball has precision 0.
    """
    out = run_request(
        RadiusPRRequest([radius]), query_codes, db_codes, query_labels,
        db_labels, backend)
    return out[f'P@H<={radius}'], out[f'R@H<={radius}']


def precision_at_n(query_codes: ArrayLike,
                   db_codes: ArrayLike,
                   query_labels: ArrayLike,
                   db_labels: ArrayLike,
                   ns: Sequence[int] = (100, ),
                   tie_break: str = 'index',
                   backend: str = 'auto') -> np.ndarray:
    """Mean precision of the top ``N`` items, for each ``N`` in ``ns``.

    Args:
        query_codes, db_codes, query_labels, db_labels: As in
            :func:`precision_recall_within_radius`.
        ns: The N values.
        tie_break: ``'index'`` or ``'average'``.
        backend: ``'auto'``, ``'numpy'`` or ``'torch'``.

    Returns:
        ``(len(ns),)`` float64 array.
    """
    request = TopNRequest(ns, tie_break, curve=True)
    out = run_request(request, query_codes, db_codes, query_labels, db_labels,
                      backend)
    return out['pr_by_topn']['precision']


def pr_curve_by_radius(query_codes: ArrayLike,
                       db_codes: ArrayLike,
                       query_labels: ArrayLike,
                       db_labels: ArrayLike,
                       backend: str = 'auto') -> dict:
    """Precision and recall within every radius ``r = 0..B``.

    Args:
        query_codes, db_codes, query_labels, db_labels: As in
            :func:`precision_recall_within_radius`.
        backend: ``'auto'``, ``'numpy'`` or ``'torch'``.

    Returns:
        ``dict(radius, precision, recall)`` of ``(B + 1,)`` arrays (empty
        balls count as precision 0).
    """
    out = run_request(
        RadiusPRRequest(None), query_codes, db_codes, query_labels, db_labels,
        backend)
    return out['pr_by_radius']


def pr_curve_by_topn(query_codes: ArrayLike,
                     db_codes: ArrayLike,
                     query_labels: ArrayLike,
                     db_labels: ArrayLike,
                     ns: Optional[Sequence[int]] = None,
                     tie_break: str = 'index',
                     backend: str = 'auto') -> dict:
    """Precision@N and recall@N at a list of N (PR by number retrieved).

    Args:
        query_codes, db_codes, query_labels, db_labels: As in
            :func:`precision_recall_within_radius`.
        ns: The N values; default :data:`DEFAULT_TOPN`.
        tie_break: ``'index'`` or ``'average'``.
        backend: ``'auto'``, ``'numpy'`` or ``'torch'``.

    Returns:
        ``dict(n, precision, recall)`` of ``(len(ns),)`` arrays.
    """
    request = TopNRequest(
        DEFAULT_TOPN if ns is None else ns, tie_break, curve=True)
    out = run_request(request, query_codes, db_codes, query_labels, db_labels,
                      backend)
    return out['pr_by_topn']
