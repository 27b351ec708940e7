"""What every metric is computed from: the integer statistics of a block
of queries (:class:`BlockStats`), and the interface of a metric that
consumes them (:class:`Request`).

Per query: the number of items and of relevant items at every Hamming
distance, and (only when some metric asks for it) the 0-based ranks of the
relevant items in the first ``prefix`` places of the stable ``(distance,
database position)`` ranking. Every metric of this package is a function
of these integers, so several metrics share one distance computation, and
the numpy and torch backends agree exactly because they produce the same
integers.
"""
from typing import NamedTuple, Optional, Sequence

import numpy as np


class BlockStats(NamedTuple):
    """Integer statistics of one block of queries.

    Attributes:
        start: Index of the block's first query.
        hist_all: ``(b, B + 1)`` items at each distance.
        hist_rel: ``(b, B + 1)`` relevant items at each distance.
        prefix: ``(b,)`` ranked-prefix length covered by ``rel_pos``.
        rel_rows: ``(m,)`` block row of each relevant item in a prefix.
        rel_pos: ``(m,)`` its 0-based rank in the stable ranking; sorted by
            row, then rank.
        num_db: Database size ``N``.
    """
    start: int
    hist_all: np.ndarray
    hist_rel: np.ndarray
    prefix: np.ndarray
    rel_rows: np.ndarray
    rel_pos: np.ndarray
    num_db: int


class Request:
    """A metric computed from :class:`BlockStats` (subclass and override).

    ``prefix_needed`` says how much of the stable ranking the metric needs
    per query (``None``: none, e.g. for radius metrics or the ``'average'``
    tie policy); ``update`` consumes each block; ``result`` returns the
    named values.
    """

    def prefix_needed(self, hist_all: np.ndarray,
                      hist_rel: np.ndarray) -> Optional[np.ndarray]:
        return None

    def update(self, stats: BlockStats) -> None:
        raise NotImplementedError

    def result(self) -> dict:
        raise NotImplementedError


def needed_prefix(requests: Sequence[Request], hist_all: np.ndarray,
                  hist_rel: np.ndarray) -> np.ndarray:
    """Longest ranked prefix any request needs, per query (0: none)."""
    prefix = np.zeros(len(hist_all), dtype=np.int64)
    for request in requests:
        need = request.prefix_needed(hist_all, hist_rel)
        if need is not None:
            np.maximum(prefix, need, out=prefix)
    return np.minimum(prefix, hist_all[0].sum() if len(hist_all) else 0)


ZERO_HIT_POLICIES = ('zero', 'exclude')


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a
    ``ValueError`` naming the option and the choices."""
    if value not in choices:
        raise ValueError(f'{name} must be one of {tuple(choices)}; got '
                         f'{value!r}')
    return value


def check_zero_hit(zero_hit: str) -> str:
    """Validate a zero-hit policy name (``'zero'`` or ``'exclude'``)."""
    return check_choice('zero_hit', zero_hit, ZERO_HIT_POLICIES)


class PerQueryRequest(Request):
    """A request whose blocks produce per-query arrays.

    Subclasses implement ``per_query(stats) -> dict of (b, ...) arrays``
    and ``finish(dict of (Q, ...) arrays) -> dict of results``.
    """

    def __init__(self):
        self._parts = []

    def per_query(self, stats: BlockStats) -> dict:
        raise NotImplementedError

    def finish(self, values: dict) -> dict:
        raise NotImplementedError

    def update(self, stats: BlockStats) -> None:
        self._parts.append(self.per_query(stats))

    def result(self) -> dict:
        keys = self._parts[0].keys() if self._parts else ()
        values = {k: np.concatenate([p[k] for p in self._parts]) for k in keys}
        self._parts = []
        return self.finish(values)


def cumulative(hist: np.ndarray) -> np.ndarray:
    """Items at distance ``<= d`` for each ``d`` (``cumsum`` on axis 1)."""
    return np.cumsum(hist, axis=1)


def safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den == 0`` (the empty-list convention
    used by every ratio metric here)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def topk_name(topk: Optional[int]) -> str:
    """``'all'`` or the number, as used in metric names (``mAP@all``)."""
    return 'all' if topk is None else str(int(topk))


def check_topk(topk: Optional[int]) -> Optional[int]:
    """Validate a list length (positive integer, or None for all)."""
    if topk is not None and (int(topk) != topk or topk < 1):
        raise ValueError(f'topk must be a positive integer or None (all); '
                         f'got {topk!r}')
    return None if topk is None else int(topk)


#: What a K above the database size gets: ``'refuse'`` (a ``ValueError``:
#: mAP@K would be mAP@all under another name) or ``'clamp'`` (K = N, the
#: published reference loops' convention, which slice the ranked list).
TOPK_BEYOND_DATABASE = ('refuse', 'clamp')


def check_topk_within_database(topk,
                               num_database: int,
                               policy: str = 'refuse',
                               owner: str = 'topk',
                               fix: Optional[str] = None) -> None:
    """Refuse list lengths ``K`` above the database size ``N``.

    The ranking has only ``N`` items, so mAP@K for ``K > N`` is mAP@all (and
    mAP@N): reported under the name mAP@K it says something it is not.

    Args:
        topk: One ``K`` or a sequence (``None`` means all and always fits).
        num_database: ``N``.
        policy: One of :data:`TOPK_BEYOND_DATABASE`; ``'clamp'`` accepts.
        owner: How the caller names the option (``'topk'``,
            ``'--topk'``, ``"HammingRetrievalMetric: topk"``).
        fix: What to do instead; default: ``topk`` None or at most N.
    """
    check_choice('topk_beyond_database', policy, TOPK_BEYOND_DATABASE)
    if policy == 'clamp':
        return
    values = topk if isinstance(topk, (list, tuple)) else (topk, )
    for k in values:
        if k is not None and k > num_database:
            raise ValueError(
                f'{owner}={k} is larger than the database ({num_database} '
                f'items), so mAP@{k} would be mAP@all; ' +
                (fix or f'set {owner} to None (all) or to at most '
                 f'{num_database}'))


def check_radius(radius: int) -> int:
    """Validate a Hamming radius (non-negative integer)."""
    if int(radius) != radius or radius < 0:
        raise ValueError(f'radius must be a non-negative integer; got '
                         f'{radius!r}')
    return int(radius)
