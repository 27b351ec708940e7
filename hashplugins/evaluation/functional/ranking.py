"""Ranking by Hamming distance and the tie policies.

Hamming distance takes only ``B + 1`` values, so many database items tie.
Two named policies decide what a tie means for a metric:

* ``'index'`` (default): items are ranked by ``(distance, database
  position)``, the order of a stable sort on distance. Deterministic.
* ``'average'``: within each distance the order is uniformly random,
  independently per query, and metrics report their exact expected value
  (see :mod:`.tie_average`).

The stable order is computed with counting, not comparison sorts: per
query, the number of items at each distance gives where each distance
bucket starts, and an item's rank inside its bucket is its position among
the bucket's items in database order.
"""
from typing import Tuple

import numpy as np

from .codes import ArrayLike, is_tensor, pack_codes, packed_to_words
from .hamming import distance_dtype, hamming_rows
from .stats import check_choice

try:
    import torch as _torch
except ImportError:  # pragma: no cover
    _torch = None

TIE_POLICIES = ('index', 'average')


def check_tie_break(tie_break: str) -> str:
    """Validate a tie policy name (``'index'`` or ``'average'``)."""
    return check_choice('tie_break', tie_break, TIE_POLICIES)


def prefix_cutoff(hist_all: np.ndarray,
                  length: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Distance bucket holding position ``length`` of each ranking.

    Args:
        hist_all: ``(b, B + 1)`` items per distance.
        length: ``(b,)`` prefix lengths, ``1 <= length <= N`` (rows with 0
            get bucket 0).

    Returns:
        ``(bucket, before)``: the bucket index and the number of items in
        the buckets before it, ``(b,)`` int64 each.
    """
    cum = np.cumsum(hist_all, axis=1)
    bucket = (cum < np.asarray(length)[:, None]).sum(axis=1)
    bucket = np.minimum(bucket, hist_all.shape[1] - 1)
    rows = np.arange(len(hist_all))
    return bucket, cum[rows, bucket] - hist_all[rows, bucket]


def ranked_prefix(dist: np.ndarray, hist_all: np.ndarray,
                  length: np.ndarray) -> Tuple[np.ndarray, ...]:
    """The first ``length[i]`` items of each row's stable ranking.

    Only the items at a distance up to the bucket that holds position
    ``length[i]`` are touched; their rank is the count of items in closer
    buckets plus their rank inside their own bucket, obtained by a stable
    radix sort of the small ``(row, distance)`` keys.

    Args:
        dist: ``(b, N)`` distances (``uint8``/``int16``).
        hist_all: ``(b, B + 1)`` items per distance of each row.
        length: ``(b,)`` prefix lengths in ``0..N``.

    Returns:
        ``(rows, cols, pos)`` int64 arrays, sorted by row then position:
        the row, the database position, and the 0-based rank of each kept
        item.
    """
    num_rows, num_db = dist.shape
    num_buckets = hist_all.shape[1]
    length = np.minimum(np.asarray(length, dtype=np.int64), num_db)
    bucket, before_cut = prefix_cutoff(hist_all, np.maximum(length, 1))
    touched = before_cut + hist_all[np.arange(num_rows), bucket]
    # Same dtype as ``dist`` keeps the comparison vectorized; rows with
    # length 0 yield a few items at bucket 0, dropped by ``keep`` below.
    flat = np.flatnonzero(dist <= bucket.astype(dist.dtype)[:, None])
    # flat is sorted and row i holds touched[i] items: no division needed.
    rows = np.repeat(np.arange(num_rows), touched)
    num_keys = num_rows * num_buckets
    # A 16-bit key is radix-sorted by numpy (linear time, stable).
    key_dtype = np.uint16 if num_keys <= 1 << 16 else np.int64
    key = rows.astype(key_dtype) * key_dtype(num_buckets) + \
        dist.ravel()[flat]
    order = np.argsort(key, kind='stable')
    key = key[order]
    group_size = np.bincount(key, minlength=num_keys)
    group_start = np.cumsum(group_size) - group_size
    before = (np.cumsum(hist_all, axis=1) - hist_all).ravel()  # closer items
    pos = np.arange(len(key)) + (before - group_start)[key]
    flat, rows = flat[order], rows[order]
    keep = pos < length[rows]
    rows, flat = rows[keep], flat[keep]
    return rows, flat - rows * num_db, pos[keep]


def row_histograms(dist: np.ndarray, num_bits: int) -> np.ndarray:
    """``(b, B + 1)`` counts of each distance per row."""
    out = np.empty((len(dist), num_bits + 1), dtype=np.int64)
    for i, row in enumerate(dist):
        out[i] = bincount(row, num_bits + 1)
    return out


def bincount(values: np.ndarray, minlength: int) -> np.ndarray:
    """``np.bincount`` of small non-negative integers, through torch when
    available: ``torch.bincount`` counts ``uint8``/``int16`` directly,
    while numpy first copies them to ``int64`` (measured ~2x slower)."""
    if _torch is not None and values.dtype in (np.uint8, np.int16):
        return _torch.bincount(
            _torch.from_numpy(values), minlength=minlength).numpy()
    return np.bincount(values, minlength=minlength)


def hamming_ranking(query_codes: ArrayLike,
                    db_codes: ArrayLike,
                    topk: int = None,
                    block_size: int = 256) -> Tuple[np.ndarray, np.ndarray]:
    """Top-``k`` database items of each query in stable Hamming order.

    Ties are broken by database position (the ``'index'`` policy), so the
    result is deterministic and equals a stable argsort of the distances.

    Args:
        query_codes: ``(Q, B)`` ±1 codes (numpy or torch; computed with
            numpy on the CPU).
        db_codes: ``(N, B)`` ±1 codes.
        topk: Number of items per query; ``None`` means all ``N``.
        block_size: Queries per block (memory is about ``block_size * N``
            bytes plus the kept items).

    Returns:
        ``(indices, distances)``: ``(Q, k)`` int64 database positions and
        their ``(Q, k)`` distances.
    """
    if is_tensor(query_codes):
        query_codes = query_codes.detach().cpu()
    if is_tensor(db_codes):
        db_codes = db_codes.detach().cpu()
    num_bits = int(db_codes.shape[1])
    if query_codes.shape[1] != num_bits:
        raise ValueError(f'query codes have {query_codes.shape[1]} bits but '
                         f'database codes have {num_bits}')
    q_words = packed_to_words(pack_codes(query_codes))
    db_words = packed_to_words(pack_codes(db_codes))
    num_q, num_db = q_words.shape[1], db_words.shape[1]
    k = num_db if topk is None else min(int(topk), num_db)
    if k < 0:
        raise ValueError(f'topk must be non-negative; got {topk}')
    indices = np.empty((num_q, k), dtype=np.int64)
    dists = np.empty((num_q, k), dtype=np.int64)
    buf = np.empty((min(block_size, max(num_q, 1)), num_db),
                   dtype=distance_dtype(num_bits))
    for start in range(0, num_q, block_size):
        stop = min(start + block_size, num_q)
        dist = hamming_rows(q_words[:, start:stop], db_words,
                            buf[:stop - start])
        hist = row_histograms(dist, num_bits)
        rows, cols, pos = ranked_prefix(dist, hist, np.full(stop - start, k))
        indices[start + rows, pos] = cols
        dists[start + rows, pos] = dist[rows, cols]
    return indices, dists
