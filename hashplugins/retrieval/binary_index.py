"""A searchable, savable collection of binary codes: :class:`BinaryIndex`.

Search semantics (the evaluation engine's, ``docs/evaluation.md``):
distance is the Hamming distance of the ±1 codes (``sign(0) = +1``);
results are ordered by ``(distance, position in the index)``, the
``'index'`` tie policy: among equal distances, the row added first comes
first. Both backends return exactly these lists:

* ``'exact'``: the evaluation engine's popcount distances
  (:func:`~hashplugins.evaluation.functional.hamming.hamming_rows`) and its
  counting-sort ranking
  (:func:`~hashplugins.evaluation.functional.ranking.ranked_prefix`), one
  block of queries at a time, on the CPU. Needs nothing but numpy.
* ``'faiss'``: ``IndexBinaryFlat`` for k-NN, ``IndexBinaryMultiHash``,
  ``IndexBinaryHash`` or ``IndexBinaryFlat`` for radius search (all exact);
  see :mod:`.faiss_backend`.

Memory stays bounded by a block of queries: a ``(block, N)`` ``uint8``
distance matrix (about 32 MB), never a dense query x database float matrix.

Appends are amortised: :meth:`BinaryIndex.add` validates its chunk and
keeps it in a list; the chunks are concatenated once, when a search,
:meth:`~BinaryIndex.save` or an accessor (``codes``, ``ids``, ``paths``,
``labels``) first needs them, so adding ``N`` rows costs ``O(N)`` in any
number of chunks. With ``backend='faiss'`` each chunk also goes straight
into the faiss ``IndexBinaryFlat``. Paths are kept as a
:class:`PackedStrings` (one UTF-8 buffer plus offsets); the index file
still stores them as a unicode array (format version 1).
"""
import hashlib
import json
from typing import NamedTuple, Optional, Sequence

import numpy as np

from hashplugins.evaluation.functional.codes import (check_packed,
                                                     pack_codes,
                                                     packed_to_words)
from hashplugins.evaluation.functional.hamming import (distance_dtype,
                                                       hamming_rows)
from hashplugins.evaluation.functional.ranking import (ranked_prefix,
                                                       row_histograms)
from .faiss_backend import FaissBinaryBackend, import_faiss
from .packed_strings import PackedStrings
from .index_file import (IndexContents, IndexFileError, read_index_file,
                         write_index_file)

BACKENDS = ('auto', 'exact', 'faiss')


class SearchResult(NamedTuple):
    """k-NN result: ``(Q, k)`` arrays, each row ordered by ``(distance,
    position)``."""
    ids: np.ndarray
    distances: np.ndarray
    positions: np.ndarray


class RangeResult(NamedTuple):
    """Radius-search result in faiss's layout: the hits of query ``i`` are
    ``[lims[i], lims[i + 1])`` of the flat arrays, ordered by ``(distance,
    position)``."""
    lims: np.ndarray
    ids: np.ndarray
    distances: np.ndarray
    positions: np.ndarray

    def query(self, i: int) -> SearchResult:
        """The hits of query ``i`` as a :class:`SearchResult` of 1-D
        arrays."""
        a, b = self.lims[i], self.lims[i + 1]
        return SearchResult(self.ids[a:b], self.distances[a:b],
                            self.positions[a:b])


def config_hash(obj) -> str:
    """A short stable hash of a JSON-able description (e.g. the model and
    test-pipeline config that produced the codes)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _resolve_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}; got '
                         f'{backend!r}')
    if backend != 'auto':
        if backend == 'faiss':
            import_faiss()
        return backend
    try:
        import_faiss()
        return 'faiss'
    except ImportError:
        return 'exact'


def _sort_hits(lims: np.ndarray, pos: np.ndarray, dist: np.ndarray,
               radius: int, num_db: int):
    """Order each query's hits by ``(distance, position)``.

    One sort of a packed int64 key ``(query, distance, position)`` (numpy
    sorts int64 with SIMD; measured ~20x faster than ``np.lexsort`` of the
    three arrays at 400k hits); ``np.lexsort`` when the key would overflow.
    """
    rows = np.repeat(np.arange(len(lims) - 1, dtype=np.int64), np.diff(lims))
    span = (radius + 1) * num_db
    if (len(lims) - 1) * span < 1 << 62:
        key = (rows * (radius + 1) + dist) * num_db + pos
        key.sort()
        return key % num_db, (key // num_db) % (radius + 1)
    order = np.lexsort((pos, dist, rows))
    return pos[order], dist[order]


def _join_ids(parts) -> np.ndarray:
    """``int64`` ids of parts that are arrays or ``range`` objects (the
    default ids of an add, made arrays only here)."""
    return np.concatenate([
        np.arange(p.start, p.stop, dtype=np.int64)
        if isinstance(p, range) else p for p in parts
    ])


class BinaryIndex:
    """Packed binary codes with ids and metadata; k-NN and radius search.

    Args:
        num_bits: Code length ``B``.
        backend: ``'exact'`` (the evaluation engine, numpy), ``'faiss'``
            (faiss binary indexes) or ``'auto'`` (faiss when installed).
            Both give identical results; see the module docstring.
        range_index: faiss index for radius search, all exact:
            ``'multihash'`` (multi-index hashing), ``'hash'`` (one
            ``IndexBinaryHash`` table with bit flips: for small radii on
            clustered codes) or ``'flat'`` (a scan: for large radii).
        hash_bits: Key length of the ``'hash'`` table (default 16, at most
            the code length); only with ``range_index='hash'``.
        method: Name of the hashing method / model (metadata).
        config_hash: Hash of the config that made the codes (metadata;
            see :func:`config_hash`).
        meta: More JSON-able metadata (``classes``, provenance, ...).
        block_size: Queries per block of the exact backend; default keeps
            the ``(block, N)`` ``uint8`` distance block near 32 MB.

    Examples:
        >>> index = BinaryIndex(64, method='DPSH')
        >>> index.add(db_codes, ids=db_ids)        # ±1 codes (n, 64)
        >>> res = index.search(query_codes, k=10)  # res.ids, res.distances
        >>> balls = index.range_search(query_codes, radius=2)
        >>> index.save('db.index.npz')
        >>> index = BinaryIndex.load('db.index.npz', num_bits=64)
    """

    def __init__(self,
                 num_bits: int,
                 backend: str = 'auto',
                 range_index: str = 'multihash',
                 hash_bits: Optional[int] = None,
                 method: Optional[str] = None,
                 config_hash: Optional[str] = None,
                 meta: Optional[dict] = None,
                 block_size: Optional[int] = None):
        if int(num_bits) != num_bits or num_bits < 1:
            raise ValueError(f'num_bits must be a positive integer; got '
                             f'{num_bits!r}')
        distance_dtype(int(num_bits))  # refuses codes that are too long
        self.num_bits = int(num_bits)
        self.backend = _resolve_backend(backend)
        self.meta = dict(meta or {})
        if method is not None:
            self.meta['method'] = method
        if config_hash is not None:
            self.meta['config_hash'] = config_hash
        self.block_size = block_size
        self._faiss = FaissBinaryBackend(range_index, hash_bits)
        self._append_to_faiss = self.backend == 'faiss'
        width = (self.num_bits + 7) // 8
        # Rows live in lists of chunks, appended by add() and concatenated
        # once on demand (_joined: at a search, save or accessor), so adding
        # N rows in any number of chunks costs O(N).
        self._size = 0
        self._code_parts = [np.zeros((0, width), dtype=np.uint8)]
        self._id_parts = [np.zeros(0, dtype=np.int64)]
        self._path_parts: Optional[list] = None  # of PackedStrings
        self._label_parts: Optional[list] = None  # of (n, C) uint8
        self._words = None  # cached (W, N) uint64 layout of the codes

    # ------------------------------------------------------------ contents
    def __len__(self) -> int:
        return self._size

    @staticmethod
    def _joined(parts: Optional[list], join=np.concatenate):
        """The one array of ``parts`` (concatenated once, then kept)."""
        if parts is None:
            return None
        if len(parts) > 1:
            parts[:] = [join(parts)]
        return parts[0]

    @property
    def _codes(self) -> np.ndarray:
        return self._joined(self._code_parts)

    @property
    def _ids(self) -> np.ndarray:
        return self._joined(self._id_parts, _join_ids)

    @property
    def codes(self) -> np.ndarray:
        """``(N, ceil(B/8))`` ``uint8`` packed codes (read-only view)."""
        view = self._codes.view()
        view.flags.writeable = False
        return view

    @property
    def ids(self) -> np.ndarray:
        return self._ids

    @property
    def paths(self) -> Optional[PackedStrings]:
        """Image file of each row, when known: a :class:`PackedStrings`
        (UTF-8 buffer + offsets) that reads like a 1-D unicode array."""
        return self._joined(self._path_parts, PackedStrings.concatenate)

    @property
    def labels(self) -> Optional[np.ndarray]:
        """``(N, C)`` ``uint8`` 0/1 label matrix, when known."""
        return self._joined(self._label_parts)

    @property
    def method(self) -> Optional[str]:
        return self.meta.get('method')

    @property
    def config_hash(self) -> Optional[str]:
        return self.meta.get('config_hash')

    def add(self,
            codes,
            ids: Optional[Sequence[int]] = None,
            paths: Optional[Sequence[str]] = None,
            labels: Optional[np.ndarray] = None) -> None:
        """Append rows.

        Args:
            codes: ``(n, B)`` ±1 (or float, or bool) codes, numpy or torch
                (binarized as everywhere: ``>= 0`` is ``+1``), or ``(n,
                ceil(B/8))`` ``uint8`` packed codes.
            ids: ``(n,)`` integer ids; default continues ``0, 1, ...``
                from the current size.
            paths: ``(n,)`` image paths. Either every ``add`` gives paths
                or none does.
            labels: ``(n, C)`` 0/1 matrix; same rule as ``paths``.
        """
        if type(codes) is np.ndarray and codes.dtype == np.uint8 \
                and codes.ndim == 2 and self.num_bits % 8 == 0 \
                and codes.shape[1] == self.num_bits // 8 \
                and codes.flags.c_contiguous:
            packed = codes.copy()  # _as_packed's fast path, inlined
        else:
            packed = self._as_packed(codes, 'codes')
            if packed is codes or packed.base is codes:
                packed = packed.copy()  # the caller's array may change
        n = len(packed)
        start = self._size
        if ids is None:
            ids = range(start, start + n)  # made an array when joined
        else:
            ids = np.asarray(ids)
            if ids.shape != (n, ) or not (np.issubdtype(
                    ids.dtype, np.integer) or n == 0):
                raise ValueError(f'ids must be {n} integers; got {ids.dtype}'
                                 f' of shape {ids.shape}')
            ids = ids.astype(np.int64)
        if paths is not None:
            if isinstance(paths, np.ndarray) and paths.dtype.kind == 'U' \
                    and paths.ndim == 1:
                paths = paths.tolist()
            else:
                paths = [str(p) for p in paths]
            if len(paths) != n:
                raise ValueError(f'{len(paths)} paths for {n} codes')
            paths = PackedStrings.from_strings(paths)
        if labels is not None:
            labels = np.asarray(labels)
            if labels.ndim != 2 or len(labels) != n or (
                    labels.size and not np.isin(labels, (0, 1)).all()):
                raise ValueError(f'labels must be a ({n}, C) 0/1 matrix; got'
                                 f' shape {labels.shape}')
            labels = labels.astype(np.uint8)
        if paths is not None or labels is not None or \
                self._path_parts is not None or \
                self._label_parts is not None:
            # Check both before changing anything: a refused add adds
            # nothing.
            self._check_optional('paths', self._path_parts, paths)
            self._check_optional('labels', self._label_parts, labels)
            self._path_parts = self._append_optional(self._path_parts, paths)
            self._label_parts = self._append_optional(self._label_parts,
                                                      labels)
        self._code_parts.append(packed)
        self._id_parts.append(ids)
        self._size = start + n
        self._words = None
        if self._append_to_faiss:
            self._faiss.append(start, packed)

    def _check_optional(self, name, parts, new):
        if len(self) == 0:
            return
        if (parts is None) != (new is None):
            raise ValueError(
                f'every add() must give {name} or none may: the index '
                f'{"has" if parts is not None else "has no"} {name}')
        if name == 'labels' and new is not None and \
                parts[0].shape[1] != new.shape[1]:
            raise ValueError(f'labels have {new.shape[1]} classes; the index'
                             f' has {parts[0].shape[1]}')

    def _append_optional(self, parts, new):
        if len(self) == 0:  # the first rows decide (as they always did)
            return None if new is None else [new]
        if parts is not None:
            parts.append(new)
        return parts

    def _as_packed(self, codes, name: str) -> np.ndarray:
        width = (self.num_bits + 7) // 8
        if isinstance(codes, np.ndarray) and codes.dtype == np.uint8 \
                and codes.ndim == 2 and codes.shape[1] == width:
            if self.num_bits % 8 == 0 and codes.flags.c_contiguous:
                return codes  # what check_packed returns: no pad bits
            return check_packed(codes, self.num_bits, name=f'packed {name}')
        if codes.ndim != 2 or codes.shape[1] != self.num_bits:
            raise ValueError(
                f'{name} must be (n, {self.num_bits}) ±1 codes or (n, '
                f'{width}) uint8 packed codes for this {self.num_bits}-bit '
                f'index; got shape {tuple(codes.shape)}')
        return pack_codes(codes)

    # -------------------------------------------------------------- search
    def search(self,
               queries,
               k: int,
               backend: Optional[str] = None) -> SearchResult:
        """The ``k`` nearest rows of each query.

        Args:
            queries: ``(Q, B)`` ±1 codes or ``(Q, ceil(B/8))`` packed codes.
            k: Results per query; clipped to the index size.
            backend: Override the index's backend for this call.

        Returns:
            :class:`SearchResult` of ``(Q, min(k, N))`` arrays, each row
            ordered by ``(distance, position)``.
        """
        packed = self._as_packed(queries, 'queries')
        if int(k) != k or k < 1:
            raise ValueError(f'k must be a positive integer; got {k!r}')
        k = min(int(k), len(self))
        backend = self._backend(backend)
        if k == 0 or len(packed) == 0:
            empty = np.zeros((len(packed), k), dtype=np.int64)
            return SearchResult(empty, empty.copy(), empty.copy())
        if backend == 'faiss':
            pos, dist = self._faiss.knn(self._codes, packed, k)
        else:
            pos, dist = self._exact_knn(packed, k)
        return SearchResult(self._ids[pos], dist.astype(np.int64),
                            pos.astype(np.int64))

    def range_search(self,
                     queries,
                     radius: int,
                     backend: Optional[str] = None) -> RangeResult:
        """Every row within Hamming distance ``radius`` (inclusive) of each
        query.

        Args:
            queries: ``(Q, B)`` ±1 codes or packed codes.
            radius: Largest distance kept (``d <= radius``).
            backend: Override the index's backend for this call.

        Returns:
            :class:`RangeResult` (``lims`` + flat arrays), each query's hits
            ordered by ``(distance, position)``.
        """
        packed = self._as_packed(queries, 'queries')
        if int(radius) != radius or radius < 0:
            raise ValueError(f'radius must be a non-negative integer; got '
                             f'{radius!r}')
        radius = int(radius)
        backend = self._backend(backend)
        if len(self) == 0 or len(packed) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return RangeResult(
                np.zeros(len(packed) + 1, dtype=np.int64), empty, empty,
                empty)
        if backend == 'faiss':
            lims, pos, dist = self._faiss.radius(self._codes, packed, radius)
            pos, dist = _sort_hits(lims, pos, dist, radius, len(self))
        else:
            lims, pos, dist = self._exact_radius(packed, radius)
        pos = pos.astype(np.int64)
        return RangeResult(
            lims.astype(np.int64), self._ids[pos], dist.astype(np.int64),
            pos)

    def _backend(self, backend: Optional[str]) -> str:
        return self.backend if backend is None else _resolve_backend(backend)

    def _blocks(self, packed: np.ndarray):
        """Yield ``(start, dist)``: ``(b, N)`` distances of each block of
        queries, computed by the evaluation engine's popcount kernel."""
        if self._words is None:
            self._words = packed_to_words(self._codes)
        q_words = packed_to_words(packed)
        num_q, num_db = len(packed), len(self)
        block = self.block_size or int(np.clip((32 << 20) // num_db, 16,
                                               1024))
        buf = np.empty((min(block, num_q), num_db),
                       dtype=distance_dtype(self.num_bits))
        for start in range(0, num_q, block):
            stop = min(start + block, num_q)
            yield start, hamming_rows(q_words[:, start:stop], self._words,
                                      buf[:stop - start])

    def _exact_knn(self, packed: np.ndarray, k: int):
        pos = np.empty((len(packed), k), dtype=np.int64)
        dist_out = np.empty((len(packed), k), dtype=np.int64)
        for start, dist in self._blocks(packed):
            hist = row_histograms(dist, self.num_bits)
            rows, cols, rank = ranked_prefix(dist, hist,
                                             np.full(len(dist), k))
            pos[start + rows, rank] = cols
            dist_out[start + rows, rank] = dist[rows, cols]
        return pos, dist_out

    def _exact_radius(self, packed: np.ndarray, radius: int):
        counts, all_pos, all_dist = [], [], []
        for _, dist in self._blocks(packed):
            if radius >= self.num_bits:
                limit = np.iinfo(dist.dtype).max
            else:
                limit = radius
            rows, cols = np.nonzero(dist <= dist.dtype.type(limit))
            d = dist[rows, cols]
            # nonzero is row-major (positions ascending per row): a stable
            # sort on (row, distance) gives (distance, position) order.
            order = np.argsort(rows * (self.num_bits + 1) + d, kind='stable')
            counts.append(np.bincount(rows, minlength=len(dist)))
            all_pos.append(cols[order])
            all_dist.append(d[order])
        lims = np.concatenate([[0], np.cumsum(np.concatenate(counts))])
        return lims, np.concatenate(all_pos), np.concatenate(all_dist)

    # ----------------------------------------------------------------- I/O
    def save(self, path: str) -> None:
        """Write the index to ``path`` (``.npz``, format
        :data:`~.index_file.FORMAT_VERSION`), atomically."""
        meta = dict(self.meta, num_bits=self.num_bits)
        paths = self.paths
        write_index_file(
            path,
            IndexContents(self.num_bits, self._codes, self._ids,
                          None if paths is None else np.asarray(paths),
                          self.labels, meta))

    @classmethod
    def load(cls,
             path: str,
             num_bits: Optional[int] = None,
             backend: str = 'auto',
             range_index: str = 'multihash',
             hash_bits: Optional[int] = None) -> 'BinaryIndex':
        """Read an index written by :meth:`save`.

        Args:
            path: The ``.npz`` file.
            num_bits: Expected code length (e.g. the encoder's); a file of
                another length is refused. ``None`` accepts any.
            backend: Search backend of the loaded index.
            range_index: faiss index for radius search.
            hash_bits: Key length of ``range_index='hash'``.

        Raises:
            FileNotFoundError: No such file.
            IndexFileError: Another format or version, another code length,
                or corrupt content; the message names the file.
        """
        contents = read_index_file(path, num_bits)
        meta = dict(contents.meta)
        if meta.pop('num_bits', contents.num_bits) != contents.num_bits:
            raise IndexFileError(f'{path}: meta num_bits disagrees with key '
                                 f'num_bits ({contents.num_bits})')
        index = cls(contents.num_bits, backend, range_index, hash_bits,
                    meta=meta)
        index._code_parts = [np.ascontiguousarray(contents.codes)]
        index._id_parts = [contents.ids]
        index._size = len(contents.codes)
        if contents.paths is not None:
            index._path_parts = [PackedStrings.from_strings(
                contents.paths.tolist())]
        if contents.labels is not None:
            index._label_parts = [contents.labels]
        return index

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_bits={self.num_bits}, size='
                f'{len(self)}, backend={self.backend!r}, method='
                f'{self.method!r})')
