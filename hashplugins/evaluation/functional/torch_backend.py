"""The torch backend of :func:`~.engine.run_pass`: the same
:class:`~.engine.BlockStats` computed on the codes' device (GPU or CPU).

Distances come from a ±1 matrix product (:func:`~.hamming.
torch_hamming_block`), relevance from class ids or packed label words,
histograms from one ``bincount`` per block, and ranked prefixes from a
top-k on the unique key ``distance * N + position`` (or a stable sort for
long prefixes), so ties follow database position exactly as in numpy.
Only the small integer statistics are copied to the host.
"""
from typing import Iterator, Optional

import numpy as np
import torch

from .codes import is_tensor
from .stats import BlockStats, needed_prefix
from .hamming import to_pm1_tensor, torch_code_dtype, torch_hamming_block
from .relevance import LabelIndex


class _DeviceLabels:
    """Relevance of query blocks to the database, on a device."""

    def __init__(self, labels: LabelIndex, device: torch.device):
        self.single = labels.single
        if self.single:
            self.query = torch.from_numpy(labels.query_classes).to(device)
            self.db = torch.from_numpy(labels.db_classes).to(device)
        else:
            self.query = torch.from_numpy(_int64_words(
                labels.query_words)).to(device)
            self.db = torch.from_numpy(_int64_words(
                labels.db_words.T)).to(device)

    def block(self, start: int, stop: int) -> torch.Tensor:
        """``(stop - start, N)`` bool relevance."""
        if self.single:
            return self.query[start:stop, None] == self.db[None, :]
        shared = self.query[start:stop, None, :] & self.db[None, :, :]
        return (shared != 0).any(dim=2)


def _int64_words(words: np.ndarray) -> np.ndarray:
    """Label words of any unsigned width as int64 (same bits)."""
    words = np.ascontiguousarray(words)
    if words.dtype == np.uint64:
        return words.view(np.int64)
    return words.astype(np.int64)


def _as_tensor(codes, device) -> torch.Tensor:
    if is_tensor(codes):
        return codes.to(device)
    return torch.from_numpy(np.asarray(codes)).to(device)


def torch_block_stats(query_codes,
                      db_codes,
                      labels: LabelIndex,
                      requests,
                      block_size: Optional[int],
                      device: Optional[str] = None) -> Iterator[BlockStats]:
    """Yield the :class:`BlockStats` of each block of queries.

    Args:
        query_codes: ``(Q, B)`` codes (torch or numpy; numpy goes to the
            CPU device).
        db_codes: ``(N, B)`` codes.
        labels: Prepared labels.
        requests: The requests (asked which ranked prefix they need).
        block_size: Queries per block; default keeps the int64 keys of a
            block near 256 MB.
        device: Where to compute; default the codes' device (CPU for
            numpy codes).
    """
    if device is not None:
        device = torch.device(device)
    elif is_tensor(db_codes):
        device = db_codes.device
    elif is_tensor(query_codes):
        device = query_codes.device
    else:
        device = torch.device('cpu')
    num_bits = int(db_codes.shape[1])
    dtype = torch_code_dtype(device, num_bits)
    queries = to_pm1_tensor(_as_tensor(query_codes, device), dtype)
    db = to_pm1_tensor(_as_tensor(db_codes, device), dtype)
    rel_labels = _DeviceLabels(labels, device)
    num_q, num_db = len(queries), len(db)
    num_buckets = num_bits + 1
    if block_size is None:
        block_size = max(1, min(num_q, (32 << 20) // num_db))
    positions = torch.arange(num_db, device=device)
    for start in range(0, num_q, block_size):
        stop = min(start + block_size, num_q)
        b = stop - start
        dist = torch_hamming_block(queries[start:stop], db, num_bits)
        relevant = rel_labels.block(start, stop)
        row_base = torch.arange(b, device=device)[:, None] * (2 * num_buckets)
        key = dist.long() + num_buckets * relevant.long() + row_base
        counts = torch.bincount(key.view(-1), minlength=b * 2 * num_buckets)
        counts = counts.view(b, 2, num_buckets).cpu().numpy()
        hist_rel = counts[:, 1].copy()
        hist_all = counts[:, 0] + hist_rel
        del key, counts
        prefix = needed_prefix(requests, hist_all, hist_rel)
        longest = int(prefix.max())
        if longest == 0:
            rows = pos = np.zeros(0, dtype=np.int64)
        else:
            if 4 * longest >= num_db:
                order = torch.sort(dist, dim=1, stable=True).indices
                order = order[:, :longest]
            else:  # distance * N + position is unique: ties by position
                order = torch.topk(
                    dist.long() * num_db + positions,
                    longest,
                    dim=1,
                    largest=False,
                    sorted=True).indices
            ranks = torch.arange(longest, device=device)
            limit = torch.from_numpy(prefix).to(device)[:, None]
            hits = relevant.gather(1, order) & (ranks[None, :] < limit)
            found = hits.nonzero().cpu().numpy()
            rows, pos = found[:, 0].copy(), found[:, 1].copy()
        yield BlockStats(start, hist_all, hist_rel, prefix, rows, pos, num_db)
