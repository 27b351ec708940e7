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
  substring). Or ``faiss.IndexBinaryHash`` (``range_index='hash'``): one
  table keyed by the first ``hash_bits`` bits, searched with ``nflip =
  min(r, hash_bits)`` flips, exact because the hashed bits of a code within
  ``r`` differ from the query's in at most ``r`` places; it visits
  ``sum_{i <= nflip} C(hash_bits, i)`` buckets per query, so it is for small
  radii (it wins on clustered codes, where multi-hash tables hold long
  buckets). Or ``IndexBinaryFlat.range_search`` (``range_index='flat'``),
  which wins for dense neighbourhoods. faiss returns ``d < radius``, so we
  pass ``r + 1``; results come back unordered and are sorted by
  ``(distance, position)``.

faiss needs whole bytes: a ``B``-bit code is given as its
``8 * ceil(B / 8)``-bit packed form; the pad bits are 0 in every code, so
distances are unchanged.
"""
from typing import Optional, Tuple

import numpy as np

RANGE_INDEXES = ('multihash', 'hash', 'flat')
DEFAULT_HASH_BITS = 16


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


def check_hash_bits(hash_bits: Optional[int]) -> Optional[int]:
    """``hash_bits`` as an int (``None`` stays ``None``: the default), or a
    ValueError saying what is allowed."""
    if hash_bits is None:
        return None
    if isinstance(hash_bits, bool) or int(hash_bits) != hash_bits \
            or not 1 <= hash_bits <= 32:
        raise ValueError(f'hash_bits must be an integer in [1, 32] (bits '
                         f'of the IndexBinaryHash key); got {hash_bits!r}')
    return int(hash_bits)


class FaissBinaryBackend:
    """Lazily built faiss indexes over the packed codes of an index.

    Args:
        range_index: ``'multihash'``, ``'hash'`` or ``'flat'`` for radius
            search.
        hash_bits: Key length of the ``'hash'`` table; default
            :data:`DEFAULT_HASH_BITS`, at most the packed code length.
    """

    def __init__(self, range_index: str = 'multihash',
                 hash_bits: Optional[int] = None):
        if range_index not in RANGE_INDEXES:
            raise ValueError(f'range_index must be one of {RANGE_INDEXES}; '
                             f'got {range_index!r}')
        self.hash_bits = check_hash_bits(hash_bits)
        if self.hash_bits is not None and range_index != 'hash':
            raise ValueError(f"hash_bits={hash_bits} is a knob of "
                             f"range_index='hash'; got range_index="
                             f"{range_index!r}")
        self.range_index = range_index
        self._flat = None
        self._range = None  # the multihash or hash index, when used
        self._size = 0

    def sync(self, packed: np.ndarray) -> None:
        """Bring the built indexes up to ``packed`` (rows are only ever
        appended, so the new rows are added incrementally)."""
        if len(packed) < self._size:  # pragma: no cover - defensive
            self._flat = self._range = None
            self._size = 0
        new = packed[self._size:]
        if len(new):
            for index in (self._flat, self._range):
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
        if self._range is not None:
            self._range.add_c(len(chunk), ptr)
        self._size = start + len(chunk)

    def _build(self, kind: str, packed: np.ndarray):
        faiss = import_faiss()
        dim = packed.shape[1] * 8
        if kind == 'flat':
            index = faiss.IndexBinaryFlat(dim)
        elif kind == 'hash':
            index = faiss.IndexBinaryHash(dim, min(
                self.hash_bits or DEFAULT_HASH_BITS, dim))
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
            if self._range is None:
                self._range = self._build(self.range_index, packed)
            index = self._range
            if self.range_index == 'hash':
                index.nflip = min(radius, index.b)
            else:
                index.nflip = radius // index.nhash
        lims, dist, pos = index.range_search(queries, radius + 1)
        return (lims.astype(np.int64), pos.astype(np.int64),
                dist.astype(np.int64))
