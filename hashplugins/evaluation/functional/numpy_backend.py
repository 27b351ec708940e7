"""The numpy (CPU) backend of :func:`~.engine.run_pass`.

Per block of queries: popcount distances into a ``(block, N)`` ``uint8``
matrix (:func:`~.hamming.hamming_rows`), per-row distance histograms of all
and of relevant items, and, where a request needs a ranked prefix, the
ranks of the relevant items in it (:func:`~.ranking.ranked_prefix`),
handled in chunks of at most ``max_candidates`` items. No query x database
float matrix is ever built.

Where the compiled kernels are built (:mod:`.kernels`, codes of at most
255 bits), distances and histograms come from one pass per row and the
ranks from one counting pass, or, where the ranked prefixes span most of
each row, all three from one pass (:data:`FUSED_MIN_FRACTION`); the
integers are the same.
"""
import numpy as np

from . import kernels
from .codes import binarize, is_tensor, pack_codes, packed_to_words
from .hamming import distance_dtype, hamming_rows
from .ranking import bincount, ranked_prefix, row_histograms
from .relevance import LabelIndex
from .stats import BlockStats, needed_prefix


def numpy_block_stats(query_codes, db_codes, labels: LabelIndex, requests,
                      block_size, max_candidates):
    num_bits = int(db_codes.shape[1])
    q_words = packed_to_words(pack_codes(_cpu(query_codes)))
    db_words = packed_to_words(pack_codes(_cpu(db_codes)))
    num_q, num_db = q_words.shape[1], db_words.shape[1]
    if block_size is None:
        block_size = int(np.clip((32 << 20) // num_db, 16, 1024))
    dist_buf = np.empty((min(block_size, num_q), num_db),
                        dtype=distance_dtype(num_bits))
    if kernels.use_kernels(num_bits):
        yield from _kernel_block_stats(q_words, db_words, labels, requests,
                                       block_size, dist_buf, num_bits)
        return
    for start in range(0, num_q, block_size):
        stop = min(start + block_size, num_q)
        dist = hamming_rows(q_words[:, start:stop], db_words,
                            dist_buf[:stop - start])
        hist_all, hist_rel = _histograms(dist, labels, start, num_bits)
        prefix = needed_prefix(requests, hist_all, hist_rel)
        rows, pos = _relevant_positions(dist, hist_all, prefix, labels, start,
                                        max_candidates)
        yield BlockStats(start, hist_all, hist_rel, prefix, rows, pos, num_db)


#: With the kernels, a block whose queries' ranked prefixes covered at
#: least this fraction of the database in the previous block (mAP@all
#: with ``tie_break='index'``) ranks every relevant item in the distance
#: pass (:func:`~.kernels.block_ranks`) instead of a second pass over the
#: prefixes. The first :data:`PROBE_ROWS` queries measure it.
FUSED_MIN_FRACTION = 0.5
PROBE_ROWS = 8


def _kernel_block_stats(q_words, db_words, labels: LabelIndex, requests,
                        block_size, dist_buf, num_bits):
    """:func:`numpy_block_stats` through the compiled kernels."""
    num_q, num_db = q_words.shape[1], db_words.shape[1]
    db_words = np.ascontiguousarray(db_words)
    keys = kernels.kernel_labels(labels)
    mask = None if keys is not None else np.empty(dist_buf.shape, bool)
    fused = False
    start = 0
    while start < num_q:
        rows_now = block_size if start else min(block_size, PROBE_ROWS)
        stop = min(start + rows_now, num_q)
        dist = dist_buf[:stop - start]
        block_mask = None if mask is None else mask[:stop - start]
        if block_mask is not None:
            for i in range(stop - start):
                labels.relevant_row(start + i, block_mask[i])
        if fused:
            hist_all, hist_rel, rows, pos = kernels.block_ranks(
                q_words[:, start:stop], db_words, dist, num_bits, keys,
                start, block_mask)
            prefix = needed_prefix(requests, hist_all, hist_rel)
            rows, pos = _within_prefix(rows, pos, hist_rel, prefix)
        else:
            hist_all, hist_rel = kernels.block_histograms(
                q_words[:, start:stop], db_words, dist, num_bits, keys,
                start, block_mask)
            prefix = needed_prefix(requests, hist_all, hist_rel)
            if prefix.any():
                rows, pos = kernels.prefix_relevant_ranks(
                    dist, hist_all, hist_rel, prefix, keys, start,
                    block_mask)
            else:
                rows = pos = np.zeros(0, dtype=np.int64)
        fused = prefix.sum() >= FUSED_MIN_FRACTION * len(prefix) * num_db
        yield BlockStats(start, hist_all, hist_rel, prefix, rows, pos, num_db)
        start = stop


def _within_prefix(rows, pos, hist_rel, prefix):
    """The ranks (sorted by row, then rank) below each row's prefix; a
    row's last rank tells whether any must go, so whole-row prefixes cost
    no per-item test."""
    counts = hist_rel.sum(axis=1)
    ends = np.cumsum(counts)[counts > 0] - 1
    if (pos[ends] < prefix[counts > 0]).all():
        return rows, pos
    keep = pos < prefix[rows]
    return rows[keep], pos[keep]


def _cpu(codes):
    return binarize(codes.detach().cpu()).numpy() if is_tensor(codes) \
        else codes


def _histograms(dist: np.ndarray, labels: LabelIndex, start: int,
                num_bits: int):
    num_buckets = num_bits + 1
    if labels.single:
        # The relevant items of a class are known by position: count their
        # distances directly instead of testing every database item.
        hist_all = row_histograms(dist, num_bits)
        hist_rel = np.empty_like(hist_all)
        for i, row in enumerate(dist):
            hist_rel[i] = bincount(
                row.take(labels.members(start + i)), num_buckets)
        return hist_all, hist_rel
    # Multi-label: one count over key = distance + (B + 1) * relevant.
    num_db = dist.shape[1]
    key_dtype = np.uint8 if 2 * num_buckets <= 256 else \
        np.int16 if 2 * num_buckets <= 1 << 15 else np.int32
    relevant = np.empty(num_db, dtype=bool)
    key = np.empty(num_db, dtype=key_dtype)
    # Typed scalar and a same-width view: the ufuncs then run in the key's
    # dtype instead of int64 followed by a cast.
    offset = key_dtype(num_buckets)
    rel_view = relevant.view(np.uint8)
    hist_all = np.empty((len(dist), num_buckets), dtype=np.int64)
    hist_rel = np.empty_like(hist_all)
    for i, row in enumerate(dist):
        labels.relevant_row(start + i, relevant)
        np.multiply(rel_view, offset, out=key, casting='unsafe')
        np.add(key, row, out=key, casting='unsafe')
        counts = bincount(key, 2 * num_buckets)
        hist_rel[i] = counts[num_buckets:]
        hist_all[i] = counts[:num_buckets] + hist_rel[i]
    return hist_all, hist_rel


def _relevant_positions(dist, hist_all, prefix, labels: LabelIndex, start: int,
                        max_candidates: int, class_key=None):
    """Ranks of the relevant items inside each row's ranked prefix.

    Two exact paths, chosen per row by how much of the row the prefix
    touches (every item up to the bucket that holds its last position):

    * short prefixes (e.g. mAP@1000 of a large database): only the touched
      items are ranked, by :func:`~.ranking.ranked_prefix` (a radix sort of
      their ``(row, distance)`` keys), in chunks of ``max_candidates``;
    * long prefixes (mAP@all, MAP@H with a large radius, large K): the
      whole row is put in stable ``(distance, position)`` order by one
      counting sort of its ``uint8``/``int16`` distances
      (:func:`_dense_ranks`), and the ranks of the relevant items are read
      off the sorted relevance flags. This costs a few ns per item instead
      of the prefix path's tens of ns per touched item.
    """
    empty = np.zeros(0, dtype=np.int64)
    if not prefix.any():
        return empty, empty
    num_rows, num_db = dist.shape
    # Items touched per row: everything up to the bucket holding the last
    # prefix position.
    cum = np.cumsum(hist_all, axis=1)
    bucket = (cum < np.maximum(prefix, 1)[:, None]).sum(axis=1)
    touched = np.where(prefix > 0, cum[np.arange(len(cum)), bucket], 0)
    dense = touched * DENSE_FRACTION >= num_db
    if class_key is None and labels.single and dense.any():
        class_key = narrow_class_key(labels)
    relevant = None if labels.single else np.empty(num_db, dtype=bool)
    out_rows, out_pos = [], []
    a = 0
    while a < num_rows:
        if dense[a]:
            pos = _dense_ranks(dist[a], labels, start + a, class_key,
                               relevant)
            pos = pos[:np.searchsorted(pos, prefix[a])]
            out_rows.append(np.full(len(pos), a, dtype=np.int64))
            out_pos.append(pos)
            a += 1
            continue
        # A run of short-prefix rows, chunked so that at most
        # max_candidates touched items are held at once.
        stop = a + 1
        while stop < num_rows and not dense[stop]:
            stop += 1
        c = min(
            stop, a + max(
                1,
                int(
                    np.searchsorted(
                        np.cumsum(touched[a:stop]),
                        max_candidates,
                        side='right'))))
        rows, cols, pos = ranked_prefix(dist[a:c], hist_all[a:c], prefix[a:c])
        hit = labels.relevant_pairs(rows, cols, row_offset=start + a)
        out_rows.append(rows[hit] + a)
        out_pos.append(pos[hit])
        a = c
    return np.concatenate(out_rows), np.concatenate(out_pos)


#: A row whose prefix touches at least ``1 / DENSE_FRACTION`` of the
#: database is ranked whole (:func:`_dense_ranks`). Measured (1 CPU
#: thread, 54,000 items, 48 bits): the whole-row sort costs ~3.5 ns per
#: database item, the prefix path ~30-55 ns per touched item; the two
#: meet near a tenth of the row.
DENSE_FRACTION = 10


def narrow_class_key(labels: LabelIndex):
    """``(db class ids in the narrowest unsigned dtype, query class ids)``
    (single-label): gathering 1-byte keys is cheaper than 8-byte ones."""
    top = int(labels.db_classes.max(initial=0))
    top = max(top, int(labels.query_classes.max(initial=0)))
    dtype = np.uint8 if top < 1 << 8 else np.uint16 if top < 1 << 16 \
        else np.int64
    return labels.db_classes.astype(dtype), labels.query_classes.astype(dtype)


def _dense_ranks(row: np.ndarray, labels: LabelIndex, query: int, class_key,
                 relevant) -> np.ndarray:
    """0-based ranks, ascending, of the relevant items of one query in its
    whole stable ranking.

    ``np.argsort(kind='stable')`` of ``uint8``/``int16`` distances is a
    radix (counting) sort: its output is the ``(distance, position)``
    order itself, the order the ``'index'`` tie policy defines. The rank
    of a relevant item is then its place in the relevance flags taken in
    that order.
    """
    order = np.argsort(row, kind='stable')
    if labels.single:
        db_key, query_key = class_key
        return np.flatnonzero(db_key.take(order) == query_key[query])
    labels.relevant_row(query, relevant)
    return np.flatnonzero(relevant.take(order))
