"""Seeded, saved hashing-protocol splits of single-label image pools.

A deep-hashing benchmark cuts one pool of labelled images into a *query*
set, a *training* set and a retrieval *database* by a protocol
(:mod:`hashplugins.datasets.protocols`). Published code often draws these
at random without saving them (DeepHash-pytorch's CIFAR builder), so
numbers are not comparable across runs. Here a split is drawn once from a
seed, written as plain index files, and reloaded afterwards, with checks
that the files still match the dataset and the protocol.

Split directory layout: ``query.txt``, ``train.txt``, ``database.txt`` (one
0-based pool index per line) and ``meta.json`` (protocol, seed, pool size,
label and item checksums, counts). Index files list a per-class split in
the seeded permutation's order, not sorted: the retrieval metric breaks
Hamming-distance ties by database position, and a class-sorted database
would make that tie order depend on the label.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from .cache import cache_root, publish_dir
from .protocols import (SPLIT_NAMES, normalize_protocol, per_class_protocol,
                        protocol_digest)

META_FILE = 'meta.json'
SPLIT_FORMAT_VERSION = 1

Split = Dict[str, np.ndarray]


def _as_labels(labels) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError('labels must be a 1-D integer array (one class per '
                         f'image), got shape {labels.shape} dtype '
                         f'{labels.dtype}')
    if labels.size and labels.min() < 0:
        raise ValueError(f'labels must be >= 0, found {labels.min()}')
    return labels.astype(np.int64)


def make_single_label_split(labels: Sequence[int],
                            num_query_per_class: int,
                            num_train_per_class: Optional[int],
                            database: str = 'rest',
                            seed: int = 0,
                            num_database_per_class: Optional[int] = None
                            ) -> Split:
    """Draw a per-class query/train/database split of a single-label pool.

    ``np.random.RandomState`` is used on purpose: its stream is frozen by
    numpy's compatibility policy, so a seed gives the same split on any
    numpy version (``default_rng`` streams may change).

    Args:
        labels (Sequence[int]): Class index of every pool image.
        num_query_per_class (int): Queries drawn per class.
        num_train_per_class (int | None): Training images per class, drawn
            from the non-query images; None takes all of them.
        database (str): 'rest', 'rest_plus_train' or 'all' (module doc).
        seed (int): Seed of the permutation.
        num_database_per_class (int, optional): Cap of the ``'rest'``
            database per class (drawn right after the training images).

    Returns:
        dict: 'query', 'train', 'database' -> int64 pool indices, each in
        the permutation's order.

    Raises:
        ValueError: If a class has too few images for the protocol.
    """
    spec = per_class_protocol(num_query_per_class, num_train_per_class,
                              database, num_database_per_class)
    labels = _as_labels(labels)
    n = len(labels)
    perm = np.random.RandomState(seed).permutation(n)
    is_query = np.zeros(n, bool)
    is_train = np.zeros(n, bool)
    is_capped_db = np.zeros(n, bool)
    nq, nt = spec['num_query_per_class'], spec['num_train_per_class']
    nd = spec.get('num_database_per_class')
    for c in np.unique(labels):
        members = perm[labels[perm] == c]  # class c in permutation order
        need = nq + (nt or 0) + (nd or 0)
        if len(members) < need:
            raise ValueError(
                f'class {c} has {len(members)} images, fewer than the '
                f'{need} the protocol needs ({nq} query + {nt or 0} train '
                f'+ {nd or 0} database per class); choose smaller per-class '
                'counts')
        is_query[members[:nq]] = True
        is_train[members[nq:] if nt is None else members[nq:nq + nt]] = True
        if nd is not None:
            start = nq + (nt or 0)
            is_capped_db[members[start:start + nd]] = True
    if nd is not None:
        is_db = is_capped_db
    elif database == 'rest':
        is_db = ~(is_query | is_train)
    elif database == 'rest_plus_train':
        is_db = ~is_query
    else:
        is_db = np.ones(n, bool)
    return {
        'query': perm[is_query[perm]],
        'train': perm[is_train[perm]],
        'database': perm[is_db[perm]],
    }


def carve_validation(train: Sequence[int],
                     labels: Sequence[int],
                     num_per_class: int,
                     seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Cut a validation set out of the training images, per class.

    Knobs are tuned on these held-out training images (queries: the
    validation part, database: the rest of the training set), never on the
    protocol's queries. ``np.random.RandomState`` for the same reason as
    :func:`make_single_label_split`: a seed gives the same cut everywhere.

    Args:
        train (Sequence[int]): Pool indices of the training split.
        labels (Sequence[int]): Class of every *pool* image.
        num_per_class (int): Validation images per class (>= 1); every
            class must keep at least one training image.
        seed (int): Seed of the permutation of the training split.

    Returns:
        tuple: ``(fit, val)`` pool indices: the training split without the
        validation images (in the training split's order) and the
        validation images (in the permutation's order).

    Raises:
        ValueError: On a bad count or a class with too few training images.
    """
    if isinstance(num_per_class, bool) or not isinstance(
            num_per_class, (int, np.integer)) or num_per_class < 1:
        raise ValueError('validation num_per_class must be an int >= 1, got '
                         f'{num_per_class!r}')
    train = np.asarray(train, dtype=np.int64)
    labels = _as_labels(labels)
    train_labels = labels[train]
    perm = np.random.RandomState(seed).permutation(len(train))
    is_val = np.zeros(len(train), bool)
    for c in np.unique(train_labels):
        members = perm[train_labels[perm] == c]
        if len(members) <= num_per_class:
            raise ValueError(
                f'class {c} has {len(members)} training images; a validation '
                f'set of {num_per_class} per class would leave none to train '
                'on: choose a smaller validation num_per_class')
        is_val[members[:num_per_class]] = True
    return train[~is_val], train[perm[is_val[perm]]]


def carve_validation_count(num_items: int,
                           num: int,
                           seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Cut ``num`` seeded random items out of ``num_items`` training items:
    the validation cut for multi-label training sets (a per-class count is
    not defined when an image has several classes).

    Args:
        num_items (int): Size of the training split.
        num (int): Validation items (>= 1, fewer than ``num_items``).
        seed (int): Seed of the permutation (``np.random.RandomState``, as
            :func:`carve_validation`).

    Returns:
        tuple: ``(fit, val)`` positions in the training split: the rest in
        their order and the validation items in the permutation's order.

    Raises:
        ValueError: On a bad count.
    """
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) \
            or not 1 <= num < num_items:
        raise ValueError(f'validation num must be an int in [1, {num_items}) '
                         f'(the training split has {num_items} items and '
                         f'must keep some to train on), got {num!r}')
    perm = np.random.RandomState(seed).permutation(num_items)
    is_val = np.zeros(num_items, bool)
    is_val[perm[:num]] = True
    return np.flatnonzero(~is_val), perm[:num].astype(np.int64)


def make_partition_split(partitions: Mapping[str, Sequence[int]],
                         spec: Mapping) -> Split:
    """Make a fixed split out of named partitions (e.g. official train/test).

    Args:
        partitions (Mapping): Partition name -> pool indices.
        spec (Mapping): A ``partition`` protocol.

    Returns:
        dict: 'query', 'train', 'database' -> int64 pool indices in
        partition order.
    """
    spec = normalize_protocol(spec)
    out = {}
    for name in SPLIT_NAMES:
        parts = []
        for part in spec[name]:
            if part not in partitions:
                raise ValueError(
                    f'protocol needs partition {part!r} for {name}, but the '
                    f'dataset has only {sorted(partitions)}')
            parts.append(np.asarray(partitions[part], dtype=np.int64))
        out[name] = np.concatenate(parts)
    return out


def make_split(labels,
               spec: Mapping,
               seed: int = 0,
               partitions: Optional[Mapping] = None) -> Split:
    """Make the split a protocol dict describes (either kind)."""
    spec = normalize_protocol(spec)
    if spec['kind'] == 'partition':
        if partitions is None:
            raise ValueError('this dataset has no official partitions, so a '
                             'partition protocol cannot be used; use a '
                             'per_class protocol')
        return make_partition_split(partitions, spec)
    return make_single_label_split(labels, spec['num_query_per_class'],
                                   spec['num_train_per_class'],
                                   spec['database'], seed,
                                   spec.get('num_database_per_class'))


def validate_split(split: Split,
                   labels,
                   spec: Mapping,
                   partitions: Optional[Mapping] = None,
                   source: str = 'split') -> None:
    """Check a split against its protocol; raise ``ValueError`` if broken.

    Checks index range and duplicates in each part, and the protocol's
    set relations: exact per-class counts, query and train disjoint, and
    the database being exactly what ``database`` says. Partition splits
    must equal the partitions. The random choice itself is not re-drawn,
    so files written by an older numpy still load.

    Args:
        split (dict): 'query', 'train', 'database' -> pool indices.
        labels (Sequence[int]): Pool labels.
        spec (Mapping): The protocol.
        partitions (Mapping, optional): Needed for partition protocols.
        source (str): Where the split came from, for messages.
    """
    spec = normalize_protocol(spec)
    labels = _as_labels(labels)
    n = len(labels)
    masks = {}
    for name in SPLIT_NAMES:
        idx = np.asarray(split[name])
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = idx[(idx < 0) | (idx >= n)][0]
            raise ValueError(f'{source}: {name} index {bad} is outside the '
                             f'dataset (0..{n - 1})')
        mask = np.zeros(n, bool)
        mask[idx] = True
        if mask.sum() != idx.size:
            dup = np.flatnonzero(np.bincount(idx, minlength=n) > 1)[0]
            raise ValueError(f'{source}: {name} lists index {dup} twice')
        masks[name] = mask
    if spec['kind'] == 'partition':
        expected = make_partition_split(partitions or {}, spec)
        for name in SPLIT_NAMES:
            if not np.array_equal(
                    np.sort(expected[name]), np.sort(split[name])):
                raise ValueError(f'{source}: {name} is not the partition(s) '
                                 f'{spec[name]} the protocol names')
        return
    q, t, db = masks['query'], masks['train'], masks['database']
    nq, nt = spec['num_query_per_class'], spec['num_train_per_class']
    nd = spec.get('num_database_per_class')
    classes = np.unique(labels)
    for name, mask, want in (('query', q, nq), ('train', t, nt),
                             ('database', db, nd)):
        if want is None:
            continue
        counts = np.bincount(labels[mask], minlength=classes.max() + 1)
        bad = [c for c in classes if counts[c] != want]
        if bad:
            raise ValueError(f'{source}: {name} has {counts[bad[0]]} images '
                             f'of class {bad[0]}, the protocol says {want}')
    if (q & t).any():
        raise ValueError(f'{source}: query and train overlap')
    if nt is None and not np.array_equal(t, ~q):
        raise ValueError(f'{source}: train must be every non-query image')
    if nd is not None:  # counts checked above; only 'rest' images allowed
        if (db & (q | t)).any():
            raise ValueError(f'{source}: database overlaps query or train')
        return
    expected_db = {
        'rest': ~(q | t),
        'rest_plus_train': ~q,
        'all': np.ones(n, bool)
    }[spec['database']]
    if not np.array_equal(db, expected_db):
        raise ValueError(f"{source}: database is not what database="
                         f"{spec['database']!r} prescribes")


def label_checksum(labels) -> str:
    """SHA-1 of the labels as little-endian int64 (pool identity check)."""
    arr = np.ascontiguousarray(_as_labels(labels), dtype='<i8')
    return hashlib.sha1(arr.tobytes()).hexdigest()


def items_checksum(items: Optional[Sequence[str]]) -> Optional[str]:
    """SHA-1 of the ordered item identifiers (e.g. relative image paths)."""
    if items is None:
        return None
    return hashlib.sha1('\n'.join(items).encode()).hexdigest()


def source_digest(source: str) -> str:
    """8 hex digits of a pool's source (its data root, made absolute and
    real), so that two pools read through one dataset class (e.g. two
    idx-format digit sets through ``MNISTHashing``) never share a cached
    split, while a changed file list under the same root is still caught
    by ``meta.json``."""
    path = osp.realpath(osp.expanduser(source))
    return hashlib.sha1(path.encode()).hexdigest()[:8]


def default_split_dir(dataset: str,
                      protocol_name: str,
                      seed: int,
                      source: Optional[str] = None) -> str:
    """``<cache>/splits/<dataset>/<protocol>_seed<seed>[_src-<digest>]``.

    The cache (``$HASHPLUGINS_CACHE`` or ``~/.cache/hashplugins``) keeps
    splits out of data folders, which may be read-only and shared.
    ``source`` (the pool's data root; :func:`source_digest`) keys the
    folder by where the pool was read from, not only by the dataset's name.
    """
    folder = f'{protocol_name}_seed{seed}'
    if source:
        folder += f'_src-{source_digest(source)}'
    return osp.join(cache_root(), 'splits', dataset, folder)


def write_split(split_dir: str, split: Split, meta: dict) -> None:
    """Write index files and ``meta.json`` atomically as one directory.

    If ``split_dir`` already holds a complete split (another process won
    the race), that one is kept.
    """
    with publish_dir(split_dir) as tmp:
        for name in SPLIT_NAMES:
            with open(osp.join(tmp, f'{name}.txt'), 'w') as f:
                f.write(''.join(f'{int(i)}\n' for i in split[name]))
        with open(osp.join(tmp, META_FILE), 'w') as f:
            json.dump(meta, f, indent=2, sort_keys=True)
            f.write('\n')


def _read_index_file(path: str) -> np.ndarray:
    if not osp.isfile(path):
        raise FileNotFoundError(f'split file {path} is missing; the split '
                                'directory is incomplete, delete it to '
                                'regenerate')
    values = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            text = line.strip()
            if not text.isdigit():
                raise ValueError(f'{path}:{lineno}: {text[:40]!r} is not a '
                                 'non-negative integer pool index')
            values.append(int(text))
    return np.asarray(values, dtype=np.int64)


def read_split(split_dir: str) -> Tuple[Split, dict]:
    """Read a split directory written by :func:`write_split`.

    Returns:
        tuple: The split dict and the parsed ``meta.json``.
    """
    meta_path = osp.join(split_dir, META_FILE)
    if not osp.isfile(meta_path):
        raise FileNotFoundError(
            f'{meta_path} is missing: {split_dir} is not a complete split '
            'directory; delete it (or pass an empty/new split_dir)')
    with open(meta_path) as f:
        try:
            meta = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{meta_path} is not valid JSON: {e}') from e
    split = {
        name: _read_index_file(osp.join(split_dir, f'{name}.txt'))
        for name in SPLIT_NAMES
    }
    return split, meta


def split_meta(dataset: str,
               protocol_name: str,
               spec: Mapping,
               seed: int,
               labels,
               items=None,
               split: Optional[Split] = None,
               source: Optional[str] = None) -> dict:
    """The ``meta.json`` content identifying a split and its pool
    (``source``, the pool's data root, is recorded for messages only)."""
    meta = dict(
        format=SPLIT_FORMAT_VERSION,
        dataset=dataset,
        protocol_name=protocol_name,
        protocol=normalize_protocol(spec),
        seed=int(seed),
        num_samples=int(len(labels)),
        label_sha1=label_checksum(labels),
        items_sha1=items_checksum(items))
    if split is not None:
        meta['counts'] = {k: int(len(v)) for k, v in split.items()}
    if source:
        meta['source'] = osp.realpath(osp.expanduser(source))
    return meta


# Keys that must agree between a stored split and the dataset loading it.
_IDENTITY_KEYS = ('protocol', 'seed', 'num_samples', 'label_sha1',
                  'items_sha1')


def _source_note(source: Optional[str]) -> str:
    return f' read from {source}' if source else ''


def load_or_create_split(split_dir: Optional[str],
                         name: str,
                         labels,
                         protocol: Mapping,
                         seed: int = 0,
                         partitions: Optional[Mapping] = None,
                         items: Optional[Sequence[str]] = None,
                         protocol_name: Optional[str] = None,
                         source: Optional[str] = None) -> Split:
    """Load the saved split of a pool, or draw and save it first.

    Args:
        split_dir (str, optional): Split directory; None uses
            :func:`default_split_dir`.
        name (str): Dataset name (cache sub-folder, recorded in meta).
        labels (Sequence[int]): Pool labels, in pool order.
        protocol (Mapping): Protocol dict.
        seed (int): Split seed.
        partitions (Mapping, optional): Official partitions of the pool.
        items (Sequence[str], optional): Ordered item identifiers (relative
            paths), so a folder whose file list changed is caught.
        protocol_name (str, optional): Name for the directory and meta;
            default ``custom-<hash>``.
        source (str, optional): Where the pool was read from (its data
            root): part of the default directory, recorded in meta.

    Returns:
        dict: 'query', 'train', 'database' -> int64 pool indices.

    Raises:
        ValueError: If the stored split was made for another pool,
            protocol or seed, or its files are corrupt.
    """
    spec = normalize_protocol(protocol)
    protocol_name = protocol_name or f'custom-{protocol_digest(spec)}'
    if split_dir is None:
        split_dir = default_split_dir(name, protocol_name, seed, source)
    split_dir = osp.abspath(osp.expanduser(split_dir))
    want = split_meta(name, protocol_name, spec, seed, labels, items)
    if not osp.isdir(split_dir) or not os.listdir(split_dir):
        split = make_split(labels, spec, seed, partitions)
        validate_split(
            split, labels, spec, partitions, source=f'new split for {name}')
        write_split(
            split_dir, split,
            split_meta(name, protocol_name, spec, seed, labels, items, split,
                       source))
    split, meta = read_split(split_dir)
    for key in _IDENTITY_KEYS:
        if meta.get(key) != want[key]:
            raise ValueError(
                f'{osp.join(split_dir, META_FILE)} does not match this '
                f'dataset: it records {key}={meta.get(key)!r}, the dataset '
                f'({name}, {want["num_samples"]} images) gives '
                f'{want[key]!r}{_source_note(source)}. The split was made '
                'for another dataset, protocol or seed, or the files under '
                f'the data root changed since (it records dataset '
                f'{meta.get("dataset")!r}, {meta.get("num_samples")} images'
                f'{_source_note(meta.get("source"))}, protocol '
                f'{meta.get("protocol_name")!r}, seed {meta.get("seed")}); '
                'pass another split_dir, or leave split_dir unset to use '
                'the cache (one folder per data root), or delete '
                f'{split_dir} to draw a fresh split.')
    for part, count in meta.get('counts', {}).items():
        if part in split and len(split[part]) != count:
            raise ValueError(f'{split_dir}/{part}.txt has {len(split[part])} '
                             f'lines, meta.json records {count}')
    validate_split(split, labels, spec, partitions, source=split_dir)
    return split
