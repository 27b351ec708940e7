"""The binary index file: packed codes, ids and metadata in one ``.npz``.

Written by :meth:`BinaryIndex.save` (``tools/encode.py``), read by
:meth:`BinaryIndex.load` (``tools/retrieve.py``,
``tools/analysis_tools/code_stats.py``). It holds no pickled objects and is
read with ``allow_pickle=False``:

==================  =========================================================
key                 content
==================  =========================================================
``format``          the string ``'hashplugins-index'``
``format_version``  ``1``
``num_bits``        code length ``B``
``codes``           ``(N, ceil(B/8))`` ``uint8`` packed codes
                    (:func:`~hashplugins.evaluation.functional.pack_codes`
                    order: bit ``i`` is bit ``7 - i % 8`` of byte ``i // 8``)
``ids``             ``(N,)`` ``int64`` user ids of the rows
``paths``           optional ``(N,)`` unicode array: image file of each row
``labels``          optional ``(N, C)`` ``uint8`` 0/1 label matrix
``meta``            a JSON object as a string: ``method``, ``config_hash``,
                    ``classes``, provenance (config, checkpoint, source)
==================  =========================================================

Row order is the index order: the ``'index'`` tie policy ranks equal
distances by it. The file is written to a temporary name beside the target
and renamed (``os.replace``), so a reader never sees a partial file.
"""
import json
import os.path as osp
import zipfile
from typing import NamedTuple, Optional

import numpy as np

from hashplugins.evaluation.functional.codes import check_packed
from hashplugins.evaluation.functional.io import atomic_output

FORMAT = 'hashplugins-index'
FORMAT_VERSION = 1
REQUIRED_KEYS = ('format', 'format_version', 'num_bits', 'codes', 'ids',
                 'meta')
OPTIONAL_KEYS = ('paths', 'labels')


class IndexFileError(ValueError):
    """An index file that cannot be used: not an index, another format
    version, another code length, or corrupt content. The message names
    the file and what is wrong."""


class IndexContents(NamedTuple):
    """Validated contents of an index file (codes still packed)."""
    num_bits: int
    codes: np.ndarray
    ids: np.ndarray
    paths: Optional[np.ndarray]
    labels: Optional[np.ndarray]
    meta: dict


def validate_contents(where: str, num_bits: int, codes: np.ndarray,
                      ids: np.ndarray, paths: Optional[np.ndarray],
                      labels: Optional[np.ndarray]) -> None:
    """Check shapes and dtypes; raise :class:`IndexFileError` naming
    ``where`` and the offending key."""
    try:
        check_packed(codes, num_bits, name='codes')
    except ValueError as err:
        raise IndexFileError(f'{where}: {err}') from None
    n = len(codes)
    if ids.dtype != np.int64 or ids.shape != (n, ):
        raise IndexFileError(f'{where}: ids must be an int64 array of shape '
                             f'({n},); got {ids.dtype} {ids.shape}')
    if paths is not None and (paths.dtype.kind != 'U'
                              or paths.shape != (n, )):
        raise IndexFileError(f'{where}: paths must be a unicode array of '
                             f'shape ({n},); got {paths.dtype} {paths.shape}')
    if labels is not None:
        if labels.dtype != np.uint8 or labels.ndim != 2 or len(labels) != n:
            raise IndexFileError(
                f'{where}: labels must be a ({n}, C) uint8 0/1 matrix; got '
                f'{labels.dtype} {labels.shape}')
        if labels.size and labels.max() > 1:
            raise IndexFileError(f'{where}: labels must hold only 0 and 1')


def write_index_file(path: str, contents: IndexContents) -> None:
    """Write ``contents`` to ``path`` atomically (temporary file, then
    ``os.replace``). Uncompressed: random-looking codes do not compress,
    and a million-row index then saves and loads at disk speed."""
    validate_contents(f'index for {path}', *contents[:5])
    arrays = dict(
        format=np.array(FORMAT),
        format_version=np.array(FORMAT_VERSION, dtype=np.int64),
        num_bits=np.array(contents.num_bits, dtype=np.int64),
        codes=contents.codes,
        ids=contents.ids,
        meta=np.array(json.dumps(contents.meta, sort_keys=True)))
    if contents.paths is not None:
        arrays['paths'] = contents.paths
    if contents.labels is not None:
        arrays['labels'] = contents.labels
    with atomic_output(path) as tmp, open(tmp, 'wb') as f:
        np.savez(f, **arrays)


def read_index_file(path: str,
                    num_bits: Optional[int] = None) -> IndexContents:
    """Read and validate an index file.

    Args:
        path: File written by :func:`write_index_file`.
        num_bits: Expected code length; a file of another length is
            refused. ``None`` accepts any.

    Returns:
        The validated :class:`IndexContents`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        IndexFileError: Not an index file, another format version, another
            code length, a missing key, inconsistent shapes or unreadable
            (truncated, corrupt) content. The message names the file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'index file {path} does not exist')
    try:
        with np.load(path, allow_pickle=False) as archive:
            present = set(archive.files)
            if 'format' not in present or str(archive['format']) != FORMAT:
                raise IndexFileError(
                    f'{path} is not a {FORMAT} file (key "format" is missing'
                    ' or different); codes files of tools/test.py --out are '
                    'read by hashplugins.evaluation.functional.load_codes')
            version = int(archive['format_version']) \
                if 'format_version' in present else None
            if version != FORMAT_VERSION:
                raise IndexFileError(
                    f'{path}: format_version {version} is not supported; '
                    f'this version of hashplugins reads format_version '
                    f'{FORMAT_VERSION} (re-create the index with '
                    'tools/encode.py)')
            missing = [k for k in REQUIRED_KEYS if k not in present]
            if missing:
                raise IndexFileError(f'{path}: missing key(s) {missing}')
            data = {k: archive[k] for k in REQUIRED_KEYS + OPTIONAL_KEYS
                    if k in present}
    except IndexFileError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        if 'allow_pickle' in str(err):
            raise IndexFileError(
                f'{path} holds pickled Python objects; index files hold '
                'plain arrays only and are read with allow_pickle=False') \
                from None
        raise IndexFileError(f'{path} is not a readable index file '
                             f'(truncated or corrupt?): {err}') from None
    if data['num_bits'].shape != () or \
            not np.issubdtype(data['num_bits'].dtype, np.integer):
        raise IndexFileError(f'{path}: num_bits must be an integer scalar')
    stored_bits = int(data['num_bits'])
    if num_bits is not None and stored_bits != int(num_bits):
        raise IndexFileError(
            f'{path} holds {stored_bits}-bit codes but {num_bits}-bit codes '
            'were expected (the index was made by another model or config)')
    validate_contents(path, stored_bits, data['codes'], data['ids'],
                      data.get('paths'), data.get('labels'))
    try:
        meta = json.loads(str(data['meta']))
    except json.JSONDecodeError as err:
        raise IndexFileError(f'{path}: key "meta" is not JSON: {err}') \
            from None
    if not isinstance(meta, dict):
        raise IndexFileError(f'{path}: key "meta" must be a JSON object')
    return IndexContents(stored_bits, data['codes'], data['ids'],
                         data.get('paths'), data.get('labels'), meta)
