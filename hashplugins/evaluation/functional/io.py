"""The codes file: query/database codes and labels for offline evaluation.

Written by :class:`HammingRetrievalMetric` (``out_file``, e.g. from
``tools/test.py --out``) and read by ``tools/analysis_tools/eval_codes.py``.
It is an ``.npz`` archive (no pickled objects, ``allow_pickle=False``):

=====================  ========================================================
key                    content
=====================  ========================================================
``format``             the string ``'hashplugins-codes'``
``format_version``     ``1``
``num_bits``           code length ``B``
``query_codes``        ``(Q, ceil(B/8))`` ``uint8`` packed codes
                       (:func:`~.codes.pack_codes` order)
``database_codes``     ``(N, ceil(B/8))`` ``uint8`` packed codes
``query_labels``       ``(Q, C)`` ``uint8`` 0/1 label matrix
``database_labels``    ``(N, C)`` ``uint8`` 0/1 label matrix
``query_index``        ``(Q,)`` ``int64`` dataset ``sample_idx`` of each row
``database_index``     ``(N,)`` ``int64`` dataset ``sample_idx`` of each row
``meta``               a JSON object as a string (free-form provenance)
=====================  ========================================================

Rows are in database order (the order the ``'index'`` tie policy uses).
The file is written to a temporary name and renamed, so a reader never
sees a partial file.
"""
import contextlib
import json
import os
import os.path as osp
from typing import Iterator, NamedTuple, Optional

import numpy as np

from .codes import check_packed, unpack_codes

FORMAT = 'hashplugins-codes'
FORMAT_VERSION = 1
_KEYS = ('format', 'format_version', 'num_bits', 'query_codes',
         'database_codes', 'query_labels', 'database_labels', 'query_index',
         'database_index', 'meta')


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success rename it to
    ``path``, on failure remove it, so ``path`` is never left partial.

    Args:
        path: Final output path (its directory is created).
    """
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = osp.join(directory, f'.{osp.basename(path)}.{os.getpid()}.tmp')
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


class CodesFile(NamedTuple):
    """Contents of a codes file (codes still packed)."""
    query_codes: np.ndarray
    db_codes: np.ndarray
    query_labels: np.ndarray
    db_labels: np.ndarray
    num_bits: int
    meta: dict
    query_index: np.ndarray
    db_index: np.ndarray

    def unpacked(self):
        """``(query_codes, db_codes)`` as ``int8`` ±1 arrays."""
        return (unpack_codes(self.query_codes, self.num_bits),
                unpack_codes(self.db_codes, self.num_bits))


def _validate(where: str, num_bits, query_codes, db_codes, query_labels,
              db_labels, query_index, db_index) -> None:
    """Raise ``ValueError`` naming ``where`` and the offending key."""
    for key, codes in (('query_codes', query_codes), ('database_codes',
                                                      db_codes)):
        try:
            check_packed(codes, num_bits, name=key)
        except ValueError as err:
            raise ValueError(f'{where}: {err}') from None
    for key, labels, codes in (('query_labels', query_labels, query_codes),
                               ('database_labels', db_labels, db_codes)):
        if labels.dtype != np.uint8 or labels.ndim != 2:
            raise ValueError(f'{where}: {key} must be a 2-D uint8 0/1 '
                             f'matrix; got {labels.dtype} {labels.shape}')
        if len(labels) != len(codes):
            raise ValueError(f'{where}: {key} has {len(labels)} rows for '
                             f'{len(codes)} codes')
        if labels.size and labels.max() > 1:
            raise ValueError(f'{where}: {key} must hold only 0 and 1')
    if query_labels.shape[1] != db_labels.shape[1]:
        raise ValueError(f'{where}: query_labels has {query_labels.shape[1]}'
                         f' classes but database_labels has '
                         f'{db_labels.shape[1]}')
    for key, index, codes in (('query_index', query_index, query_codes),
                              ('database_index', db_index, db_codes)):
        if index.shape != (len(codes), ):
            raise ValueError(f'{where}: {key} must have shape '
                             f'({len(codes)},); got {index.shape}')


def save_codes(path: str,
               query_codes: np.ndarray,
               db_codes: np.ndarray,
               query_labels: np.ndarray,
               db_labels: np.ndarray,
               num_bits: int,
               meta: Optional[dict] = None,
               query_index: Optional[np.ndarray] = None,
               db_index: Optional[np.ndarray] = None) -> None:
    """Write a codes file atomically.

    Args:
        path: Output path (``.npz`` is conventional; the name is kept).
        query_codes: ``(Q, ceil(B/8))`` ``uint8`` packed codes.
        db_codes: ``(N, ceil(B/8))`` ``uint8`` packed codes.
        query_labels: ``(Q, C)`` 0/1 matrix.
        db_labels: ``(N, C)`` 0/1 matrix.
        num_bits: ``B``.
        meta: JSON-serializable provenance (config, checkpoint, ...).
        query_index: ``(Q,)`` dataset indices; default ``0..Q-1``.
        db_index: ``(N,)`` dataset indices; default ``0..N-1``.
    """
    query_labels = np.asarray(query_labels).astype(np.uint8)
    db_labels = np.asarray(db_labels).astype(np.uint8)
    query_index = np.arange(len(query_codes)) if query_index is None \
        else np.asarray(query_index)
    db_index = np.arange(len(db_codes)) if db_index is None \
        else np.asarray(db_index)
    _validate(f'codes for {path}', num_bits, query_codes, db_codes,
              query_labels, db_labels, query_index, db_index)
    arrays = dict(
        format=np.array(FORMAT),
        format_version=np.array(FORMAT_VERSION, dtype=np.int64),
        num_bits=np.array(int(num_bits), dtype=np.int64),
        query_codes=np.asarray(query_codes),
        database_codes=np.asarray(db_codes),
        query_labels=query_labels,
        database_labels=db_labels,
        query_index=query_index.astype(np.int64),
        database_index=db_index.astype(np.int64),
        meta=np.array(json.dumps(meta or {}, sort_keys=True)))
    with atomic_output(path) as tmp, open(tmp, 'wb') as f:
        np.savez_compressed(f, **arrays)


def load_codes(path: str) -> CodesFile:
    """Read and validate a codes file.

    Args:
        path: File written by :func:`save_codes`.

    Returns:
        A :class:`CodesFile`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: Not a codes file, an unsupported version, a missing
            key, or inconsistent shapes; the message names the file and the
            key.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'codes file {path} does not exist')
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as err:  # not a zip / npz at all
        raise ValueError(f'{path} is not a codes file (.npz): {err}') \
            from None
    with archive:
        missing = [k for k in _KEYS if k not in archive.files]
        if 'format' in missing or ('format' not in missing
                                   and str(archive['format']) != FORMAT):
            raise ValueError(f'{path} is not a {FORMAT} file (key "format" '
                             'is missing or different)')
        version = int(archive['format_version']) \
            if 'format_version' not in missing else None
        if version != FORMAT_VERSION:
            raise ValueError(f'{path}: unsupported format_version {version};'
                             f' this version reads {FORMAT_VERSION}')
        if missing:
            raise ValueError(f'{path}: missing key(s) {missing}')
        data = {}
        for key in _KEYS:
            try:
                data[key] = archive[key]
            except ValueError as err:  # an object (pickled) array
                raise ValueError(
                    f'{path}: key "{key}" holds pickled Python objects; '
                    'codes files hold plain arrays only and are read with '
                    f'allow_pickle=False ({err})') from None
    num_bits = int(data['num_bits'])
    _validate(path, num_bits, data['query_codes'], data['database_codes'],
              data['query_labels'], data['database_labels'],
              data['query_index'], data['database_index'])
    try:
        meta = json.loads(str(data['meta']))
    except json.JSONDecodeError as err:
        raise ValueError(f'{path}: key "meta" is not JSON: {err}') from None
    return CodesFile(data['query_codes'], data['database_codes'],
                     data['query_labels'], data['database_labels'], num_bits,
                     meta, data['query_index'], data['database_index'])
