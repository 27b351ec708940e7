"""faiss binary indexes behind :class:`BinaryIndex` (``backend='faiss'``).

* k-NN: ``faiss.IndexBinaryFlat`` (exhaustive popcount search). Its result
  heap breaks distance ties by id, and rows are added without ids (id =
  position), so its lists equal the ``'index'`` tie policy of the
  evaluation engine; ``tests/test_retrieval`` checks this on tie-heavy
  codes.
* radius: ``faiss.IndexBinaryMultiHash`` (multi-index hashing, Norouzi et
  al.): ``nhash`` tables of ``b`` bits. Searching with ``nflip = r //
  nhash`` bit flips per table is exact by the pigeonhole principle (a code
  within ``r`` of the query is within ``r // nhash`` on at least one
  substring). Or ``IndexBinaryFlat.range_search`` (``range_index='flat'``),
  which wins for dense neighbourhoods. faiss returns ``d < radius``, so we
  pass ``r + 1``; results come back unordered and are sorted by
  ``(distance, position)``.

faiss needs whole bytes: a ``B``-bit code is given as its
``8 * ceil(B / 8)``-bit packed form; the pad bits are 0 in every code, so
distances are unchanged.
"""
from typing import Tuple

import numpy as np

RANGE_INDEXES = ('multihash', 'flat')


def import_faiss():
    """``faiss``, or an ImportError saying how to install it."""
    try:
        import faiss
    except ImportError as err:  # pragma: no cover - faiss is a test extra
        raise ImportError(
            "backend='faiss' needs faiss: pip install faiss-cpu (or the "
            "'faiss' extra of hashplugins); backend='exact' needs nothing "
            'more') from err
    return faiss


def multihash_shape(dim: int) -> Tuple[int, int]:
    """``(nhash, bits per table)`` for a ``dim``-bit packed code: 16-bit
    substrings (64k buckets per table, small tables, exact search with no
    flips up to radius ``nhash - 1``); one table for ``dim <= 24``."""
    if dim <= 24:
        return 1, dim
    nhash = dim // 16
    return nhash, dim // nhash


class FaissBinaryBackend:
    """Lazily built faiss indexes over the packed codes of an index.

    Args:
        range_index: ``'multihash'`` or ``'flat'`` for radius search.
    """

    def __init__(self, range_index: str = 'multihash'):
        if range_index not in RANGE_INDEXES:
            raise ValueError(f'range_index must be one of {RANGE_INDEXES}; '
                             f'got {range_index!r}')
        self.range_index = range_index
        self._flat = None
        self._multihash = None
        self._size = 0

    def sync(self, packed: np.ndarray) -> None:
        """Bring the built indexes up to ``packed`` (rows are only ever
        appended, so the new rows are added incrementally)."""
        if len(packed) < self._size:  # pragma: no cover - defensive
            self._flat = self._multihash = None
            self._size = 0
        new = packed[self._size:]
        if len(new):
            for index in (self._flat, self._multihash):
                if index is not None:
                    index.add(new)
            self._size = len(packed)

    def append(self, start: int, chunk: np.ndarray) -> None:
        """Add a chunk of checked, contiguous packed rows that an index
        appends at row ``start``: straight into the ``IndexBinaryFlat``
        (created empty on the first chunk; faiss appends are amortised),
        so a later search finds it complete and :meth:`sync` has nothing
        to add. When the built indexes are not in step with the rows
        before the chunk (a loaded index, built at its first search), the
        chunk is left to :meth:`sync`."""
        if self._size != start or not len(chunk):
            return
        faiss = import_faiss()
        if self._flat is None:
            self._flat = faiss.IndexBinaryFlat(chunk.shape[1] * 8)
        # add_c is what faiss's numpy add() calls after checking dtype,
        # shape and contiguity, which the caller already did.
        ptr = faiss.swig_ptr(chunk)
        self._flat.add_c(len(chunk), ptr)
        if self._multihash is not None:
            self._multihash.add_c(len(chunk), ptr)
        self._size = start + len(chunk)

    def _build(self, kind: str, packed: np.ndarray):
        faiss = import_faiss()
        dim = packed.shape[1] * 8
        if kind == 'flat':
            index = faiss.IndexBinaryFlat(dim)
        else:
            index = faiss.IndexBinaryMultiHash(dim, *multihash_shape(dim))
        index.add(packed)  # sync() ran first: packed is the whole index
        return index

    def knn(self, packed: np.ndarray, queries: np.ndarray,
            k: int) -> Tuple[np.ndarray, np.ndarray]:
        """``(positions, distances)``, ``(Q, k)`` each, ties by position."""
        self.sync(packed)
        if self._flat is None:
            self._flat = self._build('flat', packed)
        dist, pos = self._flat.search(queries, k)
        return pos, dist

    def radius(self, packed: np.ndarray, queries: np.ndarray,
               radius: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(lims, positions, distances)`` of every item with ``d <=
        radius``, in faiss's order (unsorted within a query)."""
        self.sync(packed)
        if self.range_index == 'flat':
            if self._flat is None:
                self._flat = self._build('flat', packed)
            index = self._flat
        else:
            if self._multihash is None:
                self._multihash = self._build('multihash', packed)
            index = self._multihash
            index.nflip = radius // index.nhash
        lims, dist, pos = index.range_search(queries, radius + 1)
        return (lims.astype(np.int64), pos.astype(np.int64),
                dist.astype(np.int64))
