"""The torch backend of :func:`~.engine.run_pass`: the same
:class:`~.stats.BlockStats` as the numpy backend, computed on the codes'
device (a GPU, or the CPU when asked for).

Per block of queries (rows chosen from a memory budget, :func:`block_rows`;
never a query x database matrix for the whole query set), with no Python
loop over queries:

1. Distances: one matrix product that yields the Hamming distance itself
   (:func:`block_distances`), cast to ``uint8``/``int16``.
2. Histograms: one count over the key ``row * 2(B + 1) + (B + 1) *
   relevant + distance`` (``bincount`` on the CPU; ``scatter_add_`` on
   accelerators, where ``bincount`` reads its maximum back to the host).
3. Ranked prefixes (``tie_break='index'``), only where a request needs
   them: the items up to the distance bucket that holds each row's last
   prefix position are gathered and stably sorted by ``(row, distance)``,
   which is the ``(distance, database position)`` order of the ``'index'``
   policy; an item's rank is its place in that order minus the items of
   the rows before it. Where those items cover most of the block, the
   whole block is sorted instead (:data:`DENSE_FRACTION`). Every output
   size is known beforehand from the histograms, so the device never has
   to report one (``nonzero_static``).

The host reads the device once per block: the ranks of block ``k`` travel
together with the histograms of block ``k + 1`` (plus one read for the
first block's histograms). The requests then reduce these integers on the
host exactly as for the numpy backend, so both give identical numbers.
"""
from typing import Iterator, Optional, Tuple

import numpy as np
import torch

from .codes import is_tensor
from .hamming import to_pm1_tensor, torch_hamming_block
from .ranking import prefix_cutoff
from .relevance import LabelIndex
from .stats import BlockStats, needed_prefix

#: Working-memory budget of one block, in bytes, by device type (others:
#: :data:`ACCELERATOR_BLOCK_BYTES`). Reused buffers matter on the CPU,
#: where fresh large tensors cost page faults (measured: a fresh
#: ``(65, 128495)`` product 19 ms, into a reused buffer 7 ms).
BLOCK_BYTES = {'cpu': 256 << 20}
ACCELERATOR_BLOCK_BYTES = 1 << 30

#: Bytes held per query x database pair of a block, at most about: the
#: product (``float32``), distances, relevance, a mask and the count keys
#: (``int64`` on accelerators), then the dense ranking's sorted keys and
#: ``int64`` sort indices.
BYTES_PER_PAIR = 32

#: A block whose ranked prefixes touch at least ``1 / DENSE_FRACTION`` of
#: its pairs sorts every pair (no gather of the touched ones, whose
#: ``int64`` coordinates would cost more memory than the block itself).
DENSE_FRACTION = 4

#: Codes up to this length get their distances straight from the product
#: (:func:`block_distances`); longer ones go through
#: :func:`~.hamming.torch_hamming_block`.
DIRECT_MAX_BITS = 256

#: Device types whose histograms use ``torch.bincount`` (elsewhere it
#: reads its input's maximum back to the host; ``scatter_add_`` is used).
BINCOUNT_DEVICES = ('cpu', )

_HAS_NONZERO_STATIC = hasattr(torch, 'nonzero_static')


def block_rows(num_query: int, num_db: int, device: torch.device) -> int:
    """Queries per block that keep a block within the device's budget."""
    budget = BLOCK_BYTES.get(device.type, ACCELERATOR_BLOCK_BYTES)
    return int(max(1, min(num_query, budget // (BYTES_PER_PAIR * num_db))))


def _pick_device(query_codes, db_codes, device) -> torch.device:
    """The explicit device, else the first accelerator holding codes."""
    if device is not None:
        return torch.device(device)
    tensors = [c for c in (query_codes, db_codes) if is_tensor(c)]
    for codes in tensors:
        if codes.device.type != 'cpu':
            return codes.device
    return torch.device('cpu')


def _as_tensor(codes, device) -> torch.Tensor:
    if not is_tensor(codes):
        codes = torch.from_numpy(np.asarray(codes))
    return codes.detach().to(device)


def _product_dtype(device: torch.device):
    # fp16 runs on tensor cores. The operands (+-1, +-1/2, 1, B/2) are
    # exact in fp16, bf16 and TF32, partial sums are multiples of 1/2 of
    # magnitude <= B <= 256 (exact even in an fp16 accumulator) and the
    # results integers <= 256, so reduced-precision settings stay exact.
    return torch.float16 if device.type == 'cuda' else torch.float32


def direct_operands(query_pm1: torch.Tensor, db_pm1: torch.Tensor,
                    dtype) -> Tuple[torch.Tensor, torch.Tensor]:
    """Operands whose product is the Hamming distance.

    ``d = B/2 - (q . x)/2 = [q, 1, 0...] . [-x/2, B/2, 0...]``: the query
    side gets a column of ones, the database side ``-1/2`` times its codes
    and a column ``B/2``; zero columns pad the inner size to a multiple of
    8 (measured 2.4x faster than 65 on a CPU).

    Args:
        query_pm1: ``(Q, B)`` ±1 tensor.
        db_pm1: ``(N, B)`` ±1 tensor.
        dtype: Product dtype.

    Returns:
        ``(Q, K)`` query operand and ``(K, N)`` contiguous database operand.
    """
    num_q, num_bits = query_pm1.shape
    width = (num_bits + 1 + 7) // 8 * 8
    device = query_pm1.device
    query = torch.zeros((num_q, width), dtype=dtype, device=device)
    query[:, :num_bits] = query_pm1
    query[:, num_bits] = 1
    db = torch.zeros((width, len(db_pm1)), dtype=dtype, device=device)
    db[:num_bits] = db_pm1.T * -0.5
    db[num_bits] = num_bits / 2
    return query, db


def block_distances(query_op: torch.Tensor, db_op: torch.Tensor,
                    out_product: torch.Tensor,
                    out: torch.Tensor) -> torch.Tensor:
    """Distances of a block from :func:`direct_operands`, into ``out``.

    The product holds exact integers, so the cast needs no rounding.
    """
    torch.mm(query_op, db_op, out=out_product)
    return out.copy_(out_product)


def _nonzero(mask: torch.Tensor, size: int) -> torch.Tensor:
    """``mask.nonzero()`` when the count is known: no device read."""
    if _HAS_NONZERO_STATIC:
        return torch.nonzero_static(mask, size=size)
    return torch.nonzero(mask)


class _DeviceLabels:
    """Relevance of query blocks to the database, on a device."""

    def __init__(self, labels: LabelIndex, device: torch.device):
        self.single = labels.single
        if self.single:
            top = max(
                int(labels.db_classes.max(initial=0)),
                int(labels.query_classes.max(initial=0)))
            dtype = np.int32 if top < 1 << 31 else np.int64
            self.query = torch.from_numpy(
                labels.query_classes.astype(dtype)).to(device)
            self.db = torch.from_numpy(
                labels.db_classes.astype(dtype)).to(device)[None, :]
        else:
            # Same bits in a signed dtype of the same width (torch's
            # bitwise ops cover those): "shares a label" is AND != 0.
            self.query = torch.from_numpy(_signed(
                labels.query_words)).to(device)
            self.db = torch.from_numpy(_signed(labels.db_words)).to(device)

    def block(self, start: int, stop: int, out: torch.Tensor) -> torch.Tensor:
        """``(stop - start, N)`` bool relevance, into ``out``."""
        if self.single:
            return torch.eq(self.query[start:stop, None], self.db, out=out)
        words = self.query[start:stop]
        acc = words[:, 0, None] & self.db[0][None, :]
        for w in range(1, self.db.shape[0]):  # label words, not queries
            acc |= words[:, w, None] & self.db[w][None, :]
        return torch.ne(acc, 0, out=out)


def _signed(words: np.ndarray) -> np.ndarray:
    words = np.ascontiguousarray(words)
    signed = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}
    return words.view(signed[words.dtype.itemsize])


class _Pass:
    """Buffers and per-block steps of one pass over the queries."""

    def __init__(self, query_codes, db_codes, labels: LabelIndex,
                 block_size: Optional[int], device: torch.device):
        self.device = device
        self.num_bits = num_bits = int(db_codes.shape[1])
        self.num_buckets = num_bits + 1
        self.direct = num_bits <= DIRECT_MAX_BITS
        queries = _as_tensor(query_codes, device)
        db = _as_tensor(db_codes, device)
        self.num_q, self.num_db = len(queries), len(db)
        if self.direct:
            dtype = _product_dtype(device)
            self.query_op, self.db_op = direct_operands(
                to_pm1_tensor(queries, dtype), to_pm1_tensor(db, dtype), dtype)
        else:
            dtype = torch.float16 if device.type == 'cuda' and \
                num_bits <= 2048 else torch.float32
            self.query_op = to_pm1_tensor(queries, dtype)
            self.db_op = to_pm1_tensor(db, dtype)
        self.labels = _DeviceLabels(labels, device)
        self.rows = block_size or block_rows(self.num_q, self.num_db, device)
        self.rows = min(self.rows, self.num_q)
        shape = (self.rows, self.num_db)
        # One narrow dtype for distances and (distance, relevance) pairs:
        # an in-place op on mixed dtypes first materializes a converted
        # copy (measured ~6x slower on a CPU than same-dtype ops).
        self.dist_dtype = torch.uint8 if 2 * num_bits + 1 <= 255 else \
            torch.int16
        self.dist_buf = torch.empty(
            shape, dtype=self.dist_dtype, device=device)
        self.local_buf = torch.empty_like(self.dist_buf)
        self.rel_buf = torch.empty(shape, dtype=torch.bool, device=device)
        self.mask_buf = torch.empty(shape, dtype=torch.bool, device=device)
        self.product_buf = torch.empty(shape, dtype=dtype, device=device) \
            if self.direct else None
        self.use_bincount = device.type in BINCOUNT_DEVICES
        num_keys = self.rows * 2 * self.num_buckets
        self.key_dtype = torch.int64 if not self.use_bincount else \
            torch.int16 if num_keys <= 1 << 15 else \
            torch.int32 if num_keys <= 1 << 31 else torch.int64
        self.key_buf = torch.empty(shape, dtype=self.key_dtype, device=device)
        self.block_bases = torch.arange(
            self.rows, device=device, dtype=self.key_dtype)[:, None]

    def distances(self, start: int, stop: int) -> torch.Tensor:
        out = self.dist_buf[:stop - start]
        if self.direct:
            return block_distances(self.query_op[start:stop], self.db_op,
                                   self.product_buf[:stop - start], out)
        return out.copy_(
            torch_hamming_block(self.query_op[start:stop], self.db_op,
                                self.num_bits))

    def histograms(self, dist: torch.Tensor, rel: torch.Tensor):
        """``(b, 2, B + 1)`` int64 counts: not relevant, relevant."""
        b = len(dist)
        nb = self.num_buckets
        local = self.local_buf[:b]  # (B + 1) * relevant + distance
        if local.dtype == torch.uint8:
            torch.mul(rel.view(torch.uint8), nb, out=local)
        else:
            local.copy_(rel).mul_(nb)
        local.add_(dist)
        key = self.key_buf[:b]
        key.copy_(local).add_(self.block_bases[:b] * (2 * nb))
        size = b * 2 * nb
        if self.use_bincount:
            counts = torch.bincount(key.view(-1), minlength=size)
        else:
            flat = key.view(-1)
            counts = torch.zeros(size, dtype=torch.int64, device=self.device)
            counts.scatter_add_(
                0, flat,
                torch.ones((1, ), dtype=torch.int64,
                           device=self.device).expand(len(flat)))
        return counts.view(b, 2, nb)

    def ranks(self, dist: torch.Tensor, rel: torch.Tensor,
              plan: '_RankPlan') -> torch.Tensor:
        """``(2, m)`` int64 (row, rank) of the relevant items up to each
        row's cut-off bucket, sorted by row, then rank."""
        b, num_db = dist.shape
        nb = self.num_buckets
        to_dev = dict(device=self.device)
        if plan.dense:
            # Sort every pair by (row, distance); a row holds exactly N
            # items, so sorted place s is row s // N, rank s % N.
            key = self.key_buf[:b]
            key.copy_(dist)
            key.add_(self.block_bases[:b] * nb)
            order = torch.sort(key.view(-1), stable=True).indices
            hit = rel.view(-1)[order].view(b, num_db)
            ranks = torch.arange(num_db, **to_dev)
            touched = torch.from_numpy(plan.touched).to(**to_dev)
            hit &= ranks[None, :] < touched[:, None]
            return _nonzero(hit, plan.num_relevant).T
        # Gather the touched items (row-major: by row, then position),
        # then a stable sort by (row, distance) puts them in ranked order.
        limit = torch.from_numpy(plan.limit).to(dtype=dist.dtype, **to_dev)
        mask = torch.lt(dist, limit[:, None], out=self.mask_buf[:b])
        flat = _nonzero(mask.view(-1), plan.num_touched)[:, 0]  # 1-D: faster
        rows = flat // num_db
        key = (rows * nb).add_(dist.view(-1)[flat])
        if b * nb < 1 << 31:
            key = key.int()  # a narrower sort key sorts faster
        key, order = torch.sort(key, stable=True)
        rows = key // nb  # the sorted key gives the row: no gather
        first = torch.from_numpy(plan.first).to(**to_dev)
        pos = torch.arange(len(rows), **to_dev) - first[rows]
        keep = _nonzero(rel.view(-1)[flat[order]], plan.num_relevant)[:, 0]
        return torch.stack((rows[keep].long(), pos[keep]))


class _RankPlan:
    """What the ranks of a block need, from its histograms (host side).

    Attributes:
        limit: ``(b,)`` 1 + the bucket holding each row's last prefix
            position (0: no prefix): the touched items have
            ``distance < limit``.
        touched: ``(b,)`` items per row with ``distance < limit``.
        first: ``(b,)`` place of each row's first touched item among all.
        num_touched, num_relevant: Totals (touched items, relevant ones).
        dense: Whether to sort the whole block.
    """

    def __init__(self, hist_all, hist_rel, prefix):
        b = len(hist_all)
        rows = np.arange(b)
        bucket, before = prefix_cutoff(hist_all, np.maximum(prefix, 1))
        active = prefix > 0
        self.limit = np.where(active, bucket + 1, 0)
        self.touched = np.where(active, before + hist_all[rows, bucket], 0)
        relevant = np.cumsum(hist_rel, axis=1)[rows, bucket]
        self.num_relevant = int(np.where(active, relevant, 0).sum())
        self.num_touched = int(self.touched.sum())
        self.first = np.cumsum(self.touched) - self.touched
        num_db = int(hist_all[0].sum())
        self.dense = self.num_touched * DENSE_FRACTION >= b * num_db


def torch_block_stats(query_codes,
                      db_codes,
                      labels: LabelIndex,
                      requests,
                      block_size: Optional[int],
                      device: Optional[str] = None) -> Iterator[BlockStats]:
    """Yield the :class:`BlockStats` of each block of queries.

    Args:
        query_codes: ``(Q, B)`` codes (torch or numpy; numpy goes to the
            device).
        db_codes: ``(N, B)`` codes.
        labels: Prepared labels.
        requests: The requests (asked which ranked prefix they need).
        block_size: Queries per block; default from the device's memory
            budget (:func:`block_rows`).
        device: Where to compute; default the first non-CPU device holding
            codes, else the CPU.
    """
    run = _Pass(query_codes, db_codes, labels, block_size,
                _pick_device(query_codes, db_codes, device))
    starts = list(range(0, run.num_q, run.rows))
    block = _Block(run, 0)
    host = block.counts.cpu().numpy()
    for k, start in enumerate(starts):
        hist_rel = host[:, 1].copy()
        hist_all = host[:, 0] + hist_rel
        prefix = needed_prefix(requests, hist_all, hist_rel)
        ranks = None
        if prefix.any():
            plan = _RankPlan(hist_all, hist_rel, prefix)
            ranks = run.ranks(block.dist, block.rel, plan)
        block = _Block(run, starts[k + 1]) if k + 1 < len(starts) else None
        # One read per block: these ranks with the next block's counts.
        parts = [
            t.reshape(-1) for t in (ranks, block and block.counts)
            if t is not None
        ]
        read = torch.cat(parts).cpu().numpy() if parts else None
        rows = pos = np.zeros(0, dtype=np.int64)
        if ranks is not None:
            m = ranks.shape[1]
            rows, pos = read[:m], read[m:2 * m]
            keep = pos < prefix[rows]
            if not keep.all():  # items of a cut bucket beyond the prefix
                rows, pos = rows[keep], pos[keep]
            read = read[2 * m:]
        yield BlockStats(start, hist_all, hist_rel, prefix, rows, pos,
                         run.num_db)
        if block is not None:
            host = read.reshape(block.counts.shape)


class _Block:
    """Distances, relevance and counts of one block, on the device."""

    def __init__(self, run: _Pass, start: int):
        stop = min(start + run.rows, run.num_q)
        self.dist = run.distances(start, stop)
        self.rel = run.labels.block(start, stop, run.rel_buf[:stop - start])
        self.counts = run.histograms(self.dist, self.rel)
