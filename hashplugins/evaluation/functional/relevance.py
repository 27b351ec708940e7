"""Relevance from labels: a database item is relevant to a query when they
share at least one label (single-label data is the one-hot case).

Labels are accepted as ``(n,)`` integer class ids or as an ``(n, C)`` 0/1
matrix (integer, bool or float). Relevance is never materialized as a
query x database float matrix: single-label data keeps class ids and, per
class, the database positions of its members; multi-label data packs each
label set into one or more unsigned words so that "share a label" is a
bitwise AND.
"""
from typing import NamedTuple, Optional

import numpy as np

from .codes import ArrayLike, is_tensor


def _to_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if is_tensor(x) else np.asarray(x)


def label_matrix(labels: ArrayLike,
                 num_classes: Optional[int] = None,
                 name: str = 'labels') -> np.ndarray:
    """A ``(n, C)`` 0/1 ``uint8`` matrix from class ids or a 0/1 matrix.

    Args:
        labels: ``(n,)`` non-negative class ids or an ``(n, C)`` 0/1 matrix.
        num_classes: ``C``. Required to agree with a matrix's width; for
            class ids, defaults to ``max id + 1``.
        name: Name used in error messages.

    Returns:
        ``(n, C)`` ``uint8`` matrix of 0 and 1.
    """
    labels = _to_numpy(labels)
    if labels.ndim == 1:
        ids = _check_class_ids(labels, name)
        width = int(ids.max()) + 1 if ids.size else 0
        if num_classes is not None:
            if width > num_classes:
                raise ValueError(f'{name} has class id {width - 1} but '
                                 f'num_classes is {num_classes}')
            width = num_classes
        out = np.zeros((ids.size, width), dtype=np.uint8)
        out[np.arange(ids.size), ids] = 1
        return out
    matrix = _check_matrix(labels, name)
    if num_classes is not None and matrix.shape[1] != num_classes:
        raise ValueError(f'{name} has {matrix.shape[1]} label columns but '
                         f'num_classes is {num_classes}')
    return matrix


def _check_class_ids(ids: np.ndarray, name: str) -> np.ndarray:
    if not (np.issubdtype(ids.dtype, np.integer) or ids.dtype == np.bool_):
        raise TypeError(f'1-D {name} must be integer class ids; got '
                        f'{ids.dtype}')
    if ids.size and ids.min() < 0:
        raise ValueError(f'{name} has a negative class id {ids.min()}')
    return ids.astype(np.int64)


def _check_matrix(matrix: np.ndarray, name: str) -> np.ndarray:
    if matrix.ndim != 2:
        raise ValueError(f'{name} must be (n,) class ids or an (n, C) 0/1 '
                         f'matrix; got shape {matrix.shape}')
    if not ((matrix == 0) | (matrix == 1)).all():
        raise ValueError(f'{name} matrix must hold only 0 and 1')
    return matrix.astype(np.uint8)


class LabelIndex(NamedTuple):
    """Prepared labels of a query set and a database.

    Attributes:
        single: True for single-label data (every item has exactly one
            label, so relevance is equality of class ids).
        query_classes: ``(Q,)`` class ids (single-label).
        db_classes: ``(N,)`` class ids (single-label).
        class_members: ``(N,)`` database positions sorted by class, then by
            position (single-label).
        class_offsets: ``(C + 1,)`` start of each class in
            ``class_members`` (single-label).
        query_words: ``(Q, L)`` packed label words (multi-label).
        db_words: ``(L, N)`` packed label words, one row per word
            (multi-label).
    """
    single: bool
    query_classes: Optional[np.ndarray] = None
    db_classes: Optional[np.ndarray] = None
    class_members: Optional[np.ndarray] = None
    class_offsets: Optional[np.ndarray] = None
    query_words: Optional[np.ndarray] = None
    db_words: Optional[np.ndarray] = None

    def members(self, query: int) -> np.ndarray:
        """Database positions relevant to query ``query`` (single-label)."""
        c = self.query_classes[query]
        return self.class_members[self.class_offsets[c]:self.class_offsets[c +
                                                                           1]]

    def relevant_row(self, query: int, out: np.ndarray) -> np.ndarray:
        """Bool relevance of every database item to one query, into
        ``out`` (``(N,)`` bool)."""
        if self.single:
            return np.equal(
                self.db_classes, self.query_classes[query], out=out)
        acc = self.db_words[0] & self.query_words[query, 0]
        for w in range(1, self.db_words.shape[0]):
            acc |= self.db_words[w] & self.query_words[query, w]
        return np.not_equal(acc, 0, out=out)

    def relevant_pairs(self,
                       rows: np.ndarray,
                       cols: np.ndarray,
                       row_offset: int = 0) -> np.ndarray:
        """Relevance of the pairs ``(row_offset + rows[k], cols[k])``."""
        rows = rows + row_offset
        if self.single:
            return self.db_classes[cols] == self.query_classes[rows]
        hit = np.zeros(len(rows), dtype=bool)
        for w in range(self.db_words.shape[0]):
            hit |= (self.db_words[w][cols] & self.query_words[rows, w]) != 0
        return hit


def _pack_label_words(matrix: np.ndarray) -> np.ndarray:
    """``(n, C)`` 0/1 -> ``(n, L)`` unsigned words, as narrow as fits."""
    packed = np.packbits(matrix, axis=1)
    nbytes = packed.shape[1]
    for size, dtype in ((1, np.uint8), (2, np.uint16), (4, np.uint32)):
        if nbytes <= size:
            buf = np.zeros((len(packed), size), dtype=np.uint8)
            buf[:, :nbytes] = packed
            return buf.view(dtype)
    num_words = (nbytes + 7) // 8
    buf = np.zeros((len(packed), num_words * 8), dtype=np.uint8)
    buf[:, :nbytes] = packed
    return buf.view(np.uint64)


def _as_class_ids(matrix: np.ndarray) -> Optional[np.ndarray]:
    """Class ids if every row of a 0/1 matrix has exactly one label."""
    if matrix.shape[0] and (matrix.sum(axis=1) == 1).all():
        return matrix.argmax(axis=1).astype(np.int64)
    return None


def prepare_labels(query_labels: ArrayLike,
                   db_labels: ArrayLike) -> LabelIndex:
    """Validate two label arrays and index them for fast relevance.

    Args:
        query_labels: ``(Q,)`` class ids or ``(Q, C)`` 0/1 matrix.
        db_labels: ``(N,)`` class ids or ``(N, C)`` 0/1 matrix.

    Returns:
        A :class:`LabelIndex`.
    """
    q = _to_numpy(query_labels)
    d = _to_numpy(db_labels)
    if q.ndim == 1 and d.ndim == 1:
        q_ids = _check_class_ids(q, 'query labels')
        d_ids = _check_class_ids(d, 'database labels')
    else:
        if q.ndim == 2 and d.ndim == 2 and q.shape[1] != d.shape[1]:
            raise ValueError(f'query labels have {q.shape[1]} classes but '
                             f'database labels have {d.shape[1]}')
        width = (q if q.ndim == 2 else d).shape[1]
        q_mat = label_matrix(q, width, 'query labels')
        d_mat = label_matrix(d, width, 'database labels')
        q_ids, d_ids = _as_class_ids(q_mat), _as_class_ids(d_mat)
        if q_ids is None or d_ids is None:
            return LabelIndex(
                single=False,
                query_words=_pack_label_words(q_mat),
                db_words=np.ascontiguousarray(_pack_label_words(d_mat).T))
    num_classes = int(max(q_ids.max(initial=-1), d_ids.max(initial=-1))) + 1
    members = np.argsort(d_ids, kind='stable')
    offsets = np.zeros(num_classes + 1, dtype=np.int64)
    np.cumsum(np.bincount(d_ids, minlength=num_classes), out=offsets[1:])
    return LabelIndex(
        single=True,
        query_classes=q_ids,
        db_classes=d_ids,
        class_members=members,
        class_offsets=offsets)


def relevance_matrix(query_labels: ArrayLike,
                     db_labels: ArrayLike) -> np.ndarray:
    """Bool ``(Q, N)`` relevance (share at least one label).

    For inspection and small inputs; the evaluation never builds it.

    Args:
        query_labels: ``(Q,)`` class ids or ``(Q, C)`` 0/1 matrix.
        db_labels: ``(N,)`` class ids or ``(N, C)`` 0/1 matrix.

    Returns:
        ``(Q, N)`` bool numpy array.
    """
    index = prepare_labels(query_labels, db_labels)
    num_q = len(index.query_classes if index.single else index.query_words)
    num_db = len(index.db_classes) if index.single \
        else index.db_words.shape[1]
    out = np.empty((num_q, num_db), dtype=bool)
    for i in range(num_q):
        index.relevant_row(i, out[i])
    return out
