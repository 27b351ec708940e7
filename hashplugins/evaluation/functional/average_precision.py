"""Mean average precision: mAP@K over the Hamming ranking, and MAP within
Hamming radius r.

AP, hashing convention (HashNet, DeepHash, DeepHash-pytorch, ADSH, TAH):
over a ranked list, ``AP = (1 / n_rel) * sum over relevant positions i of
(relevant items up to i) / i``, where ``n_rel`` is the number of relevant
items *in the list* (not in the whole database). A list without a relevant
item has AP 0.

* mAP@K: the list is the top ``K`` of the whole ranking (``K = None``:
  all ``N``; ``K > N`` is clipped to ``N``).
* MAP@H<=r (TAH's ``mean_average_precision_hamming2`` for r = 2): the list
  is every item within Hamming distance ``r`` (a prefix of the ranking),
  an empty ball has AP 0.

The mean over queries follows ``zero_hit``: ``'zero'`` keeps AP-0 queries
in the mean (DeepHash-pytorch, ADSH, TAH); ``'exclude'`` averages only the
queries whose list holds a relevant item (thuml HashNet/DeepHash), and is
0 when no query does. Ties follow ``tie_break`` (:mod:`.ranking`).
"""
from typing import Optional

import numpy as np

from . import kernels
from .codes import ArrayLike
from .engine import run_request
from .ranking import check_tie_break
from .stats import (PerQueryRequest, check_radius, check_topk,
                    check_topk_within_database, check_zero_hit,
                    cumulative, safe_divide, topk_name)
from .tie_average import exclusion_weights, expected_ap


def ap_from_positions(rel_rows: np.ndarray, rel_pos: np.ndarray, num_rows: int,
                      cutoff: np.ndarray):
    """AP of the top ``cutoff[q]`` items from the ranks of relevant items.

    Args:
        rel_rows: ``(m,)`` query row of each relevant item.
        rel_pos: ``(m,)`` its 0-based rank; sorted by row, then rank, and
            complete up to the cut-off.
        num_rows: Number of queries.
        cutoff: ``(num_rows,)`` list lengths.

    Returns:
        ``(ap, has_hit)``: ``(num_rows,)`` float64 AP and bool.
    """
    if kernels.kernels_enabled():
        return kernels.ap_sums(rel_rows, rel_pos, num_rows, cutoff)
    if len(rel_pos) and rel_pos.max() >= cutoff.min():
        keep = rel_pos < cutoff[rel_rows]
        rel_rows, rel_pos = rel_rows[keep], rel_pos[keep]
    hits = np.bincount(rel_rows, minlength=num_rows)
    first = np.cumsum(hits) - hits
    # found = hits up to and including each item: 1, 2, ... within a row.
    found = np.arange(1, len(rel_rows) + 1, dtype=np.float64)
    found -= np.repeat(first.astype(np.float64), hits)
    den = rel_pos + 1.0
    np.divide(found, den, out=found)
    # Sequential sum per row in rank order (bincount adds its weights in
    # input order; np.add.reduceat would sum pairwise): the compiled
    # kernel adds in the same order, so both give the same floats.
    total = np.bincount(rel_rows, weights=found, minlength=num_rows)
    return safe_divide(total, hits), hits > 0


def mean_over_queries(ap: np.ndarray, p_hit: np.ndarray,
                      zero_hit: str) -> float:
    """Mean AP under a zero-hit policy.

    Args:
        ap: ``(Q,)`` AP (or expected AP) per query, 0 without a hit.
        p_hit: ``(Q,)`` probability that the query's list holds a relevant
            item (0 or 1 unless ties are averaged across a cut-off).
        zero_hit: ``'zero'`` or ``'exclude'``.

    Returns:
        The mean. With ``'exclude'`` and uncertain hits this is the exact
        expectation of the mean over the queries with a hit
        (:func:`~.tie_average.exclusion_weights`).
    """
    if zero_hit == 'zero':
        return float(ap.mean())
    if ((p_hit == 0) | (p_hit == 1)).all():
        hit = p_hit == 1
        return float(ap[hit].mean()) if hit.any() else 0.0
    return float((ap * exclusion_weights(p_hit)).sum())


class _APRequest(PerQueryRequest):
    """AP of a per-query list length given by :meth:`cutoff`."""

    def __init__(self, name: str, zero_hit: str, tie_break: str):
        super().__init__()
        self.name = name
        self.zero_hit = check_zero_hit(zero_hit)
        self.tie_break = check_tie_break(tie_break)

    def cutoff(self, hist_all: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def prefix_needed(self, hist_all, hist_rel):
        return self.cutoff(hist_all) if self.tie_break == 'index' else None

    def per_query(self, stats):
        cutoff = self.cutoff(stats.hist_all)
        if self.tie_break == 'index':
            ap, hit = ap_from_positions(stats.rel_rows, stats.rel_pos,
                                        len(cutoff), cutoff)
            return dict(ap=ap, p_hit=hit.astype(np.float64))
        ap, p_hit = expected_ap(stats.hist_all, stats.hist_rel, cutoff)
        return dict(ap=ap, p_hit=p_hit)

    def finish(self, values):
        return {
            self.name:
            mean_over_queries(values['ap'], values['p_hit'], self.zero_hit)
        }


class MeanAPRequest(_APRequest):
    """mAP@K (``topk=None``: mAP@all). Result key ``'mAP@<K|all>'``."""

    def __init__(self,
                 topk: Optional[int] = None,
                 zero_hit: str = 'zero',
                 tie_break: str = 'index'):
        self.topk = check_topk(topk)
        super().__init__(f'mAP@{topk_name(self.topk)}', zero_hit, tie_break)

    def cutoff(self, hist_all):
        num_db = int(hist_all[0].sum()) if len(hist_all) else 0
        k = num_db if self.topk is None else min(self.topk, num_db)
        return np.full(len(hist_all), k, dtype=np.int64)


class RadiusMAPRequest(_APRequest):
    """MAP within Hamming radius ``r``. Result key ``'MAP@H<=r'``."""

    def __init__(self,
                 radius: int = 2,
                 zero_hit: str = 'zero',
                 tie_break: str = 'index'):
        self.radius = check_radius(radius)
        super().__init__(f'MAP@H<={self.radius}', zero_hit, tie_break)

    def cutoff(self, hist_all):
        r = min(self.radius, hist_all.shape[1] - 1)
        return cumulative(hist_all)[:, r]


def mean_average_precision(query_codes: ArrayLike,
                           db_codes: ArrayLike,
                           query_labels: ArrayLike,
                           db_labels: ArrayLike,
                           topk: Optional[int] = None,
                           zero_hit: str = 'zero',
                           tie_break: str = 'index',
                           backend: str = 'auto',
                           topk_beyond_database: str = 'refuse') -> float:
    """mAP@K over the Hamming ranking (hashing AP normalization).

    Args:
        query_codes: ``(Q, B)`` ±1 codes (numpy or torch; floats are
            binarized with ``>= 0``).
        db_codes: ``(N, B)`` ±1 codes.
        query_labels: ``(Q,)`` class ids or ``(Q, C)`` 0/1 labels.
        db_labels: ``(N,)`` class ids or ``(N, C)`` 0/1 labels.
        topk: List length ``K``; ``None`` means the whole database.
        zero_hit: ``'zero'`` (AP 0, kept in the mean) or ``'exclude'``
            (dropped from the mean).
        tie_break: ``'index'`` (stable by database position) or
            ``'average'`` (exact expectation over random tie orders).
        backend: ``'auto'``, ``'numpy'`` or ``'torch'``
            (:func:`~.engine.run_pass`).
        topk_beyond_database: ``'refuse'`` (default: ``ValueError`` for a
            ``topk`` above the database size, whose mAP@K would be mAP@all)
            or ``'clamp'`` (the reference loops' convention).

    Returns:
        mAP@K in ``[0, 1]``.
    """
    request = MeanAPRequest(topk, zero_hit, tie_break)
    check_topk_within_database(topk, len(db_codes), topk_beyond_database)
    result = run_request(request, query_codes, db_codes, query_labels,
                         db_labels, backend)
    return result[request.name]


def map_within_radius(query_codes: ArrayLike,
                      db_codes: ArrayLike,
                      query_labels: ArrayLike,
                      db_labels: ArrayLike,
                      radius: int = 2,
                      zero_hit: str = 'zero',
                      tie_break: str = 'index',
                      backend: str = 'auto') -> float:
    """MAP within Hamming radius ``r`` (TAH's MAP@H<=2 for ``r = 2``).

    The list of a query is every database item at distance ``<= radius``,
    ranked by distance (ties by ``tie_break``); AP is normalized by the
    relevant items in that ball; an empty ball, or one without a relevant
    item, scores 0 and (with the default ``zero_hit='zero'``, as in TAH)
    stays in the mean over all queries.

    Args:
        query_codes, db_codes, query_labels, db_labels: As in
            :func:`mean_average_precision`.
        radius: Hamming radius ``r``.
        zero_hit: ``'zero'`` (TAH) or ``'exclude'``.
        tie_break: ``'index'`` or ``'average'``.
        backend: ``'auto'``, ``'numpy'`` or ``'torch'``.

    Returns:
        MAP@H<=r in ``[0, 1]``.
    """
    request = RadiusMAPRequest(radius, zero_hit, tie_break)
    result = run_request(request, query_codes, db_codes, query_labels,
                         db_labels, backend)
    return result[request.name]
