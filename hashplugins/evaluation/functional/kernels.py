"""The compiled kernels of the numpy backend, and when they are used.

``_kernels`` (``_kernels.c``, built by ``pip install``; optional) does in
one pass over each query row what numpy needs several for:

* :func:`block_histograms`: XOR + popcount distances, the row's
  histogram of all items and, for single-label data, of the relevant ones;
* :func:`prefix_relevant_ranks`: the ranks of the relevant items inside
  each row's ranked prefix by a counting pass (no sort), skipping items
  beyond the prefix's last distance 8 at a time;
* :func:`block_ranks`: both at once for rows whose prefix is (nearly) the
  whole row (mAP@all with ``tie_break='index'``): distances, histograms
  and the ranks of all relevant items in one pass, the row walked as four
  segments side by side, each with its own running count per distance.

All give exactly the integers of the numpy code (tests compare the two
paths). They are used for codes of at most 255 bits when the extension is
built; ``HASHPLUGINS_EVAL_KERNELS=0`` turns them off (for comparisons, or
to rule them out when debugging).
"""
import os
from typing import NamedTuple, Optional, Tuple

import numpy as np

from .relevance import LabelIndex
from .stats import safe_divide

try:
    from . import _kernels
except ImportError:  # not built (no C compiler at install time)
    _kernels = None

#: Environment variable; ``0`` disables the compiled kernels.
KERNELS_ENV = 'HASHPLUGINS_EVAL_KERNELS'

#: Longest code the kernels take (distances as ``uint8``).
KERNEL_MAX_BITS = 255


def kernels_built() -> bool:
    """Whether the compiled extension was built and imports."""
    return _kernels is not None


def kernels_enabled() -> bool:
    """Built and not disabled by ``HASHPLUGINS_EVAL_KERNELS=0``."""
    return _kernels is not None and os.environ.get(KERNELS_ENV, '1') != '0'


def use_kernels(num_bits: int) -> bool:
    """Whether a pass over ``num_bits``-bit codes runs the compiled
    distance kernels (:func:`kernels_enabled`, at most 255 bits)."""
    return kernels_enabled() and num_bits <= KERNEL_MAX_BITS


class KernelLabels(NamedTuple):
    """Labels in the kernels' layout (single-label data).

    Attributes:
        db_keys: ``(N,)`` int32 class id of each database item.
        query_keys: ``(Q,)`` int32 class id of each query.
        class_offsets: ``(C + 1,)`` int64 start of each class in
            ``class_members``.
        class_members: ``(N,)`` int64 database positions by class.
    """
    db_keys: np.ndarray
    query_keys: np.ndarray
    class_offsets: np.ndarray
    class_members: np.ndarray


def kernel_labels(labels: LabelIndex) -> Optional[KernelLabels]:
    """:class:`KernelLabels` for single-label data; ``None`` for
    multi-label data (relevance then goes to the kernels as a mask)."""
    if not labels.single:
        return None
    top = max(
        int(labels.db_classes.max(initial=0)),
        int(labels.query_classes.max(initial=0)))
    if top >= 1 << 31:
        raise ValueError(f'class id {top} does not fit int32')
    return KernelLabels(
        labels.db_classes.astype(np.int32),
        labels.query_classes.astype(np.int32),
        np.ascontiguousarray(labels.class_offsets, dtype=np.int64),
        np.ascontiguousarray(labels.class_members, dtype=np.int64))


def block_histograms(query_words: np.ndarray, db_words: np.ndarray,
                     out: np.ndarray, num_bits: int,
                     keys: Optional[KernelLabels], start: int,
                     mask: Optional[np.ndarray] = None
                     ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Distances of a block of queries into ``out``, and their histograms.

    Args:
        query_words: ``(W, b)`` ``uint64`` words of the block's queries.
        db_words: ``(W, N)`` C-contiguous ``uint64`` database words.
        out: ``(b, N)`` C-contiguous ``uint8`` array, filled in place.
        num_bits: Code length ``B``.
        keys: Single-label layout (:func:`kernel_labels`): the relevant
            items are counted too; ``None``: all items only, or the
            relevant ones by ``mask``.
        start: Index of the block's first query (with ``keys``).
        mask: ``(b, N)`` C-contiguous bool relevance (multi-label, with
            ``keys=None``).

    Returns:
        ``(hist_all, hist_rel)``, ``(b, B + 1)`` int64 each; ``hist_rel``
        is ``None`` without ``keys`` or ``mask``.
    """
    num_words, num_db = db_words.shape
    num_rows = out.shape[0]
    num_buckets = num_bits + 1
    query_words = np.ascontiguousarray(query_words)
    hist_all = np.empty((num_rows, num_buckets), dtype=np.int64)
    if keys is None and mask is None:
        _kernels.hamming_hist(query_words, db_words, out, hist_all,
                              num_words, num_rows, num_db, num_buckets)
        return hist_all, None
    hist_rel = np.empty_like(hist_all)
    if keys is None:
        _kernels.hamming_hist(query_words, db_words, out, hist_all,
                              num_words, num_rows, num_db, num_buckets, None,
                              None, None, hist_rel, mask.view(np.uint8))
        return hist_all, hist_rel
    _kernels.hamming_hist(query_words, db_words, out, hist_all, num_words,
                          num_rows, num_db, num_buckets, keys.class_offsets,
                          keys.class_members,
                          keys.query_keys[start:start + num_rows], hist_rel)
    return hist_all, hist_rel


def prefix_relevant_ranks(dist: np.ndarray, hist_all: np.ndarray,
                          hist_rel: np.ndarray, prefix: np.ndarray,
                          keys: Optional[KernelLabels], start: int,
                          mask: Optional[np.ndarray] = None
                          ) -> Tuple[np.ndarray, np.ndarray]:
    """Ranks of the relevant items in each row's ranked prefix.

    Same result as the numpy path of
    :func:`~.numpy_backend.relevant_positions`.

    Args:
        dist: ``(b, N)`` C-contiguous ``uint8`` distances.
        hist_all: ``(b, B + 1)`` int64 items per distance.
        hist_rel: ``(b, B + 1)`` int64 relevant items per distance.
        prefix: ``(b,)`` prefix lengths (0: none).
        keys: Single-label layout, or ``None`` with ``mask``.
        start: Index of the block's first query (with ``keys``).
        mask: ``(b, N)`` bool relevance (multi-label).

    Returns:
        ``(rows, pos)``: int64 block row and 0-based rank of each relevant
        item with rank ``< prefix[row]``, sorted by row, then rank.
    """
    num_rows, num_db = dist.shape
    num_buckets = hist_all.shape[1]
    prefix = np.ascontiguousarray(prefix, dtype=np.int64)
    # The bucket holding the last prefix position bounds what is visited.
    cum = np.cumsum(hist_all, axis=1)
    last = (cum < np.maximum(prefix, 1)[:, None]).sum(axis=1)
    last = np.ascontiguousarray(np.minimum(last, num_buckets - 1))
    room = int(np.cumsum(hist_rel, axis=1)[np.arange(num_rows), last]
               [prefix > 0].sum())
    rows = np.empty(room, dtype=np.int64)
    pos = np.empty(room, dtype=np.int64)
    if keys is not None:
        count = _kernels.relevant_ranks(
            dist, hist_all, hist_rel, last, prefix, rows, pos, num_rows,
            num_db, num_buckets, keys.db_keys,
            keys.query_keys[start:start + num_rows])
    else:
        count = _kernels.relevant_ranks(dist, hist_all, hist_rel, last,
                                        prefix, rows, pos, num_rows, num_db,
                                        num_buckets, None, None,
                                        mask.view(np.uint8))
    return rows[:count], pos[:count]


def block_ranks(query_words: np.ndarray, db_words: np.ndarray,
                out: np.ndarray, num_bits: int, keys: Optional[KernelLabels],
                start: int, mask: Optional[np.ndarray] = None
                ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`block_histograms` and the ranks of *all* relevant items of
    each row, in one pass over the rows.

    For blocks whose ranked prefixes cover most of each row (mAP@all with
    ``tie_break='index'``): the ranks come with the distances, where
    :func:`prefix_relevant_ranks` would read the rows a second time.

    Args:
        query_words: ``(W, b)`` ``uint64`` words of the block's queries.
        db_words: ``(W, N)`` C-contiguous ``uint64`` database words.
        out: ``(b, N)`` C-contiguous ``uint8`` array, filled in place.
        num_bits: Code length ``B``.
        keys: Single-label layout, or ``None`` with ``mask``.
        start: Index of the block's first query (with ``keys``).
        mask: ``(b, N)`` bool relevance (multi-label), filled beforehand.

    Returns:
        ``(hist_all, hist_rel, rows, pos)``: ``(b, B + 1)`` int64 counts
        and, sorted by row then rank, the int64 block row and 0-based rank
        of every relevant item.
    """
    num_words, num_db = db_words.shape
    num_rows = out.shape[0]
    num_buckets = num_bits + 1
    query_words = np.ascontiguousarray(query_words)
    hist_all = np.empty((num_rows, num_buckets), dtype=np.int64)
    hist_rel = np.empty_like(hist_all)
    if keys is not None:
        query_keys = keys.query_keys[start:start + num_rows]
        sizes = np.diff(keys.class_offsets)
        known = query_keys < len(sizes)
        room = int(sizes[query_keys[known]].sum())
        extra = (keys.db_keys, query_keys)
    else:
        room = int(np.count_nonzero(mask))
        extra = (None, None, mask.view(np.uint8))
    rows = np.empty(room, dtype=np.int64)
    pos = np.empty(room, dtype=np.int64)
    count = _kernels.hamming_ranks(query_words, db_words, out, hist_all,
                                   hist_rel, rows, pos, num_words, num_rows,
                                   num_db, num_buckets, *extra)
    return hist_all, hist_rel, rows[:count], pos[:count]


def ap_sums(rel_rows: np.ndarray, rel_pos: np.ndarray, num_rows: int,
            cutoff: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """:func:`~.average_precision.ap_from_positions` in one pass.

    Args:
        rel_rows: ``(m,)`` query row of each relevant item.
        rel_pos: ``(m,)`` its 0-based rank, sorted by row, then rank.
        num_rows: Number of queries.
        cutoff: ``(num_rows,)`` list lengths.

    Returns:
        ``(ap, has_hit)``: ``(num_rows,)`` float64 AP and bool.
    """
    rel_rows = np.ascontiguousarray(rel_rows, dtype=np.int64)
    rel_pos = np.ascontiguousarray(rel_pos, dtype=np.int64)
    cutoff = np.ascontiguousarray(
        np.broadcast_to(cutoff, (num_rows, )), dtype=np.int64)
    total = np.empty(num_rows, dtype=np.float64)
    hits = np.empty(num_rows, dtype=np.int64)
    _kernels.ap_sums(rel_rows, rel_pos, cutoff, total, hits, len(rel_rows),
                     num_rows)
    return safe_divide(total, hits), hits > 0
