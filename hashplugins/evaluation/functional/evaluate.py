"""Several retrieval metrics in one pass over the codes.

:func:`hamming_retrieval_metrics` is what :class:`HammingRetrievalMetric`
and ``tools/analysis_tools/eval_codes.py`` call: it turns metric names into
requests (:mod:`.average_precision`, :mod:`.precision_recall`) and computes
them all from a single distance computation.
"""
from typing import Optional, Sequence, Union

from .average_precision import MeanAPRequest, RadiusMAPRequest
from .codes import ArrayLike
from .engine import run_pass
from .precision_recall import DEFAULT_TOPN, RadiusPRRequest, TopNRequest
from .ranking import check_tie_break
from .stats import (check_choice, check_topk_within_database,
                    check_zero_hit)

#: Metric families understood by :func:`hamming_retrieval_metrics`.
METRIC_FAMILIES = ('mAP', 'MAP@H', 'P@H', 'R@H', 'P@N', 'R@N', 'PR')


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else (value, )


def hamming_retrieval_metrics(query_codes: ArrayLike,
                              db_codes: ArrayLike,
                              query_labels: ArrayLike,
                              db_labels: ArrayLike,
                              metrics: Sequence[str] = ('mAP', ),
                              topk: Union[None, int,
                                          Sequence[Optional[int]]] = (None, ),
                              radius: Union[int, Sequence[int]] = 2,
                              precision_at: Union[int,
                                                  Sequence[int]] = (100, ),
                              pr_topn: Optional[Sequence[int]] = None,
                              zero_hit: str = 'zero',
                              tie_break: str = 'index',
                              backend: str = 'auto',
                              block_size: Optional[int] = None,
                              device: Optional[str] = None,
                              topk_beyond_database: str = 'refuse') -> dict:
    """Compute a set of Hamming-ranking retrieval metrics.

    Args:
        query_codes: ``(Q, B)`` ±1 codes (numpy or torch; floats are
            binarized with ``>= 0``, so ``sign(0) = +1``).
        db_codes: ``(N, B)`` ±1 codes.
        query_labels: ``(Q,)`` class ids or ``(Q, C)`` 0/1 labels.
        db_labels: ``(N,)`` class ids or ``(N, C)`` 0/1 labels.
        metrics: Any of :data:`METRIC_FAMILIES`:

            - ``'mAP'``: ``mAP@K`` for each ``K`` in ``topk``
              (``mAP@all`` for ``None``);
            - ``'MAP@H'``: ``MAP@H<=r`` for each ``r`` in ``radius``;
            - ``'P@H'`` / ``'R@H'``: ``P@H<=r`` / ``R@H<=r``;
            - ``'P@N'`` / ``'R@N'``: ``P@N`` / ``R@N`` for ``N`` in
              ``precision_at``;
            - ``'PR'``: the curves ``'pr_by_radius'`` (``r = 0..B``) and
              ``'pr_by_topn'`` (``N`` in ``pr_topn``), as dicts of arrays.
        topk: ``K`` value(s) for mAP.
        radius: ``r`` value(s) for the radius metrics.
        precision_at: ``N`` value(s) for ``P@N``/``R@N``.
        pr_topn: ``N`` values of the PR-by-N curve; default
            :data:`~.precision_recall.DEFAULT_TOPN`.
        zero_hit: ``'zero'`` or ``'exclude'`` (mAP and MAP@H).
        tie_break: ``'index'`` or ``'average'``.
        backend: ``'auto'``, ``'numpy'`` or ``'torch'``.
        block_size: Queries per block (memory bound); default automatic.
        device: Torch device to compute on (e.g. ``'cuda'``); ``None`` or
            ``'cpu'``: as ``backend`` decides.
        topk_beyond_database: ``'refuse'`` (default): a ``K`` in ``topk``
            above the database size raises ``ValueError`` (mAP@K would be
            mAP@all under another name); ``'clamp'``: ``K`` is cut to the
            database size, as the published reference loops do.

    Returns:
        ``{name: float}`` for the scalar metrics (names such as
        ``'mAP@all'``, ``'mAP@1000'``, ``'MAP@H<=2'``, ``'P@H<=2'``,
        ``'P@100'``), plus ``'pr_by_radius'``/``'pr_by_topn'`` dicts when
        ``'PR'`` is requested.
    """
    requests, wanted = build_requests(metrics, topk, radius, precision_at,
                                      pr_topn, zero_hit, tie_break)
    if 'mAP' in _as_tuple(metrics):
        check_topk_within_database(topk, len(db_codes), topk_beyond_database)
    merged = {}
    for result in run_pass(
            query_codes,
            db_codes,
            query_labels,
            db_labels,
            requests,
            backend=backend,
            block_size=block_size,
            device=device):
        merged.update(result)
    return {name: merged[name] for name in wanted}


def build_requests(metrics: Sequence[str] = ('mAP', ),
                   topk: Union[None, int, Sequence[Optional[int]]] = (None, ),
                   radius: Union[int, Sequence[int]] = 2,
                   precision_at: Union[int, Sequence[int]] = (100, ),
                   pr_topn: Optional[Sequence[int]] = None,
                   zero_hit: str = 'zero',
                   tie_break: str = 'index'):
    """Validate metric options and turn them into requests.

    Args: as :func:`hamming_retrieval_metrics`.

    Returns:
        ``(requests, names)``: the :class:`~.stats.Request` objects and the
        result names to report, in order.
    """
    metrics = _as_tuple(metrics)
    for m in metrics:
        check_choice('each metric', m, METRIC_FAMILIES)
    check_zero_hit(zero_hit)
    check_tie_break(tie_break)
    radii = _as_tuple(radius)
    requests, wanted = [], []
    if 'mAP' in metrics:
        for k in _as_tuple(topk):
            requests.append(MeanAPRequest(k, zero_hit, tie_break))
            wanted.append(requests[-1].name)
    if 'MAP@H' in metrics:
        for r in radii:
            requests.append(RadiusMAPRequest(r, zero_hit, tie_break))
            wanted.append(requests[-1].name)
    if 'P@H' in metrics or 'R@H' in metrics:
        requests.append(RadiusPRRequest(radii))
        wanted += [
            f'{m}<={r}' for m in ('P@H', 'R@H') if m in metrics for r in radii
        ]
    if 'P@N' in metrics or 'R@N' in metrics:
        ns = _as_tuple(precision_at)
        requests.append(TopNRequest(ns, tie_break))
        wanted += [
            f'{m[0]}@{n}' for m in ('P@N', 'R@N') if m in metrics for n in ns
        ]
    if 'PR' in metrics:
        requests.append(RadiusPRRequest(None))
        requests.append(
            TopNRequest(
                DEFAULT_TOPN if pr_topn is None else pr_topn,
                tie_break,
                curve=True))
        wanted += ['pr_by_radius', 'pr_by_topn']
    return requests, wanted
