"""The numpy (CPU) backend of :func:`~.engine.run_pass`.

Per block of queries: popcount distances into a ``(block, N)`` ``uint8``
matrix (:func:`~.hamming.hamming_rows`), per-row distance histograms of all
and of relevant items, and, where a request needs a ranked prefix, the
ranks of the relevant items in it (:func:`~.ranking.ranked_prefix`),
handled in chunks of at most ``max_candidates`` items. No query x database
float matrix is ever built.
"""
import numpy as np

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
    for start in range(0, num_q, block_size):
        stop = min(start + block_size, num_q)
        dist = hamming_rows(q_words[:, start:stop], db_words,
                            dist_buf[:stop - start])
        hist_all, hist_rel = _histograms(dist, labels, start, num_bits)
        prefix = needed_prefix(requests, hist_all, hist_rel)
        rows, pos = _relevant_positions(dist, hist_all, prefix, labels, start,
                                        max_candidates)
        yield BlockStats(start, hist_all, hist_rel, prefix, rows, pos, num_db)


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
                        max_candidates: int):
    """Ranks of the relevant items inside each row's ranked prefix."""
    empty = np.zeros(0, dtype=np.int64)
    if not prefix.any():
        return empty, empty
    # Items touched per row: everything up to the bucket holding the last
    # prefix position. Chunk rows so that at most max_candidates are held.
    cum = np.cumsum(hist_all, axis=1)
    bucket = (cum < np.maximum(prefix, 1)[:, None]).sum(axis=1)
    touched = np.where(prefix > 0, cum[np.arange(len(cum)), bucket], 0)
    out_rows, out_pos = [], []
    a = 0
    while a < len(dist):
        c = a + max(
            1,
            int(
                np.searchsorted(
                    np.cumsum(touched[a:]), max_candidates, side='right')))
        rows, cols, pos = ranked_prefix(dist[a:c], hist_all[a:c], prefix[a:c])
        hit = labels.relevant_pairs(rows, cols, row_offset=start + a)
        out_rows.append(rows[hit] + a)
        out_pos.append(pos[hit])
        a = c
    return np.concatenate(out_rows), np.concatenate(out_pos)
