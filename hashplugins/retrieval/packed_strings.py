"""A column of strings in one UTF-8 buffer: the paths of an index."""
import operator
from typing import Sequence

import numpy as np


class PackedStrings:
    """An immutable column of strings in one UTF-8 buffer plus ``int64``
    offsets: the :attr:`BinaryIndex.paths` of an index.

    A fixed-width numpy unicode array spends 4 bytes per character of the
    *longest* string on every row (about 175 MB per million typical image
    paths); this spends the UTF-8 bytes of each string plus 8 bytes of
    offset. It reads like the 1-D unicode array it replaces: ``paths[i]``
    is a ``np.str_``; a slice, integer array, list or boolean mask gives a
    unicode ndarray; ``np.asarray(paths)``, ``len``, iteration, ``tolist``
    and ``==`` behave as on the array. Strings are encoded with
    ``'surrogatepass'``, so undecodable file names (``surrogateescape``)
    come back unchanged.
    """

    __slots__ = ('_data', '_offsets')
    __hash__ = None  # like ndarray: == is elementwise

    def __init__(self, data: bytes, offsets: np.ndarray):
        self._data = bytes(data)
        self._offsets = np.asarray(offsets, dtype=np.int64)

    @classmethod
    def from_strings(cls, strings: Sequence[str]) -> 'PackedStrings':
        """Encode ``strings``. Trailing NULs are dropped, as a numpy unicode
        array drops them."""
        strings = list(strings)
        text = ''.join(strings)
        if '\x00' in text:
            strings = [s.rstrip('\x00') for s in strings]
            text = ''.join(strings)
        if text.isascii():  # one encode; byte lengths = character lengths
            data = text.encode('ascii')
            lengths = np.fromiter(map(len, strings), np.int64, len(strings))
        else:
            parts = [s.encode('utf-8', 'surrogatepass') for s in strings]
            data = b''.join(parts)
            lengths = np.fromiter(map(len, parts), np.int64, len(parts))
        offsets = np.zeros(len(strings) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(data, offsets)

    @classmethod
    def concatenate(cls, columns: Sequence['PackedStrings']) -> \
            'PackedStrings':
        """One column of the rows of ``columns`` in order (linear)."""
        if len(columns) == 1:
            return columns[0]
        starts = np.cumsum([0] + [len(c._data) for c in columns[:-1]])
        offsets = np.concatenate(
            [np.zeros(1, np.int64)] +
            [c._offsets[1:] + start for c, start in zip(columns, starts)])
        return cls(b''.join(c._data for c in columns), offsets)

    @property
    def nbytes(self) -> int:
        """Bytes held: the UTF-8 buffer plus the offsets."""
        return len(self._data) + self._offsets.nbytes

    @property
    def shape(self):
        return (len(self), )

    ndim = 1

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def _decode(self, i: int) -> str:
        return self._data[self._offsets[i]:self._offsets[i + 1]].decode(
            'utf-8', 'surrogatepass')

    def tolist(self) -> list:
        """The strings as a list of ``str`` (like ``ndarray.tolist``)."""
        o = self._offsets.tolist()
        if self._data.isascii():
            text = self._data.decode('ascii')
            return [text[o[i]:o[i + 1]] for i in range(len(self))]
        data = self._data
        return [
            data[o[i]:o[i + 1]].decode('utf-8', 'surrogatepass')
            for i in range(len(self))
        ]

    def __iter__(self):
        return (np.str_(s) for s in self.tolist())

    def __getitem__(self, key):
        n = len(self)
        try:
            i = operator.index(key)
        except TypeError:
            pass
        else:
            if not -n <= i < n:
                raise IndexError(f'index {i} is out of bounds for axis 0 '
                                 f'with size {n}')
            return np.str_(self._decode(i % n))
        if isinstance(key, slice):
            rows = np.arange(*key.indices(n), dtype=np.int64)
        else:
            rows = np.asarray(key)
            if rows.dtype == bool:
                if rows.shape != (n, ):
                    raise IndexError(f'boolean index of shape {rows.shape} '
                                     f'for {n} strings')
                rows = np.flatnonzero(rows)
            elif rows.size == 0:
                rows = rows.astype(np.int64)
            elif not np.issubdtype(rows.dtype, np.integer):
                raise IndexError('only integers, slices, integer or boolean '
                                 'arrays are valid indices')
            if rows.size and (rows.min() < -n or rows.max() >= n):
                raise IndexError(f'index out of bounds for axis 0 with size '
                                 f'{n}')
            rows = np.where(rows < 0, rows + n, rows)
        flat = [self._decode(i) for i in rows.ravel().tolist()]
        out = np.array(flat) if flat else np.zeros(0, dtype='<U1')
        return out.reshape(rows.shape)

    def __array__(self, dtype=None, copy=None):
        out = np.array(self.tolist()) if len(self) else np.zeros(
            0, dtype='<U1')
        return out if dtype is None else out.astype(dtype)

    def __eq__(self, other):
        return np.asarray(self) == (np.asarray(other) if isinstance(
            other, PackedStrings) else other)

    def __ne__(self, other):
        return ~self.__eq__(other)

    def __repr__(self) -> str:
        head = self[:3].tolist() if len(self) else []
        more = ', ...' if len(self) > 3 else ''
        return (f'PackedStrings({len(self)} strings, {self.nbytes} bytes: '
                f'{head}{more})')
