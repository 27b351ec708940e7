"""Hashing protocols: how a single-label pool is cut, as plain dicts.

Two kinds (plain dicts, so configs can define their own):

* ``per_class``: ``num_query_per_class`` queries and ``num_train_per_class``
  training images drawn per class from a seeded permutation of the pool;
  ``database`` says what is retrieved from:

  - ``'rest'``: everything that is neither query nor training
    (training images are *not* in the database; CIFAR-10 protocol (a));
  - ``'rest_plus_train'``: everything but the queries, so the training
    images are drawn *from* the database (CIFAR-10 protocol (b));
  - ``'all'``: the whole pool, queries included (queries then retrieve
    themselves; some unsupervised protocols do this).

  ``num_train_per_class=None`` means "every non-query image" (train is the
  whole database for ``'rest_plus_train'``); it cannot go with ``'rest'``.
  An optional ``num_database_per_class`` (``'rest'`` only) caps the
  database to that many images per class, drawn after the query and
  training images in the same permutation: a smaller retrieval set for
  quick evaluations (absent = the whole rest; existing protocols and
  their split files are unchanged).
* ``partition``: fixed, seed-free splits made of named official partitions,
  e.g. CIFAR-10 protocol (c): ``query='test'``, ``train=database='train'``.

Datasets name their protocols in a table (``PROTOCOLS``);
:func:`resolve_protocol` turns a name, an alias or a dict into the
canonical dict that split files record.
"""
import hashlib
import json
import numbers
from typing import Mapping, Optional, Tuple, Union

SPLIT_NAMES = ('query', 'train', 'database')
DATABASE_MODES = ('rest', 'rest_plus_train', 'all')


def per_class_protocol(num_query_per_class: int,
                       num_train_per_class: Optional[int],
                       database: str = 'rest',
                       num_database_per_class: Optional[int] = None) -> dict:
    """Build a ``per_class`` protocol dict (see the module docstring)."""
    spec = dict(
        kind='per_class',
        num_query_per_class=num_query_per_class,
        num_train_per_class=num_train_per_class,
        database=database)
    if num_database_per_class is not None:
        spec['num_database_per_class'] = num_database_per_class
    return normalize_protocol(spec)


def partition_protocol(query, train, database) -> dict:
    """Build a ``partition`` protocol dict; each argument names partitions."""
    return normalize_protocol(
        dict(kind='partition', query=query, train=train, database=database))


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def normalize_protocol(spec: Mapping) -> dict:
    """Validate a protocol dict and return its canonical (JSON-able) form.

    Args:
        spec (Mapping): ``kind`` ('per_class', the default, or 'partition')
            and that kind's keys.

    Returns:
        dict: Canonical protocol; equal protocols compare equal.

    Raises:
        ValueError: On an unknown kind or key, or a bad value.
    """
    if not isinstance(spec, Mapping):
        raise TypeError(f'protocol must be a name or a dict, got {spec!r}')
    spec = dict(spec)
    kind = spec.pop('kind', 'per_class')
    if kind == 'per_class':
        allowed = {'num_query_per_class', 'num_train_per_class', 'database',
                   'num_database_per_class'}
        _check_keys(spec, allowed, kind)
        nq = spec.get('num_query_per_class')
        nt = spec.get('num_train_per_class')
        database = spec.get('database', 'rest')
        if not _is_int(nq) or nq < 0:
            raise ValueError('protocol num_query_per_class must be an int '
                             f'>= 0, got {nq!r}')
        if nt is not None and (not _is_int(nt) or nt < 0):
            raise ValueError('protocol num_train_per_class must be an int '
                             f'>= 0 or None (every non-query image), got '
                             f'{nt!r}')
        if database not in DATABASE_MODES:
            raise ValueError(f'protocol database={database!r} is not one of '
                             f'{DATABASE_MODES}')
        if nt is None and database == 'rest':
            raise ValueError(
                "protocol num_train_per_class=None (train = every non-query "
                "image) with database='rest' (database excludes train) "
                "leaves an empty database; use database='rest_plus_train'")
        out = dict(
            kind=kind,
            num_query_per_class=int(nq),
            num_train_per_class=None if nt is None else int(nt),
            database=database)
        nd = spec.get('num_database_per_class')
        if nd is not None:
            if not _is_int(nd) or nd < 1:
                raise ValueError('protocol num_database_per_class must be an '
                                 f'int >= 1 or absent, got {nd!r}')
            if database != 'rest':
                raise ValueError(
                    'protocol num_database_per_class caps a database of '
                    f"database='rest' only, got database={database!r}")
            # only present when set, so older protocols keep their digest
            out['num_database_per_class'] = int(nd)
        return out
    if kind == 'partition':
        _check_keys(spec, set(SPLIT_NAMES), kind)
        out = dict(kind=kind)
        for name in SPLIT_NAMES:
            value = spec.get(name)
            names = [value] if isinstance(value, str) else value
            if (not isinstance(names, (list, tuple)) or not names
                    or not all(isinstance(n, str) for n in names)):
                raise ValueError(
                    f'partition protocol key {name!r} must name one or more '
                    f'partitions, got {value!r}')
            out[name] = list(names)
        return out
    raise ValueError(f"protocol kind {kind!r} is not 'per_class' or "
                     "'partition'")


def _check_keys(spec: Mapping, allowed: set, kind: str) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(f'{kind} protocol has unknown key(s) {unknown}; '
                         f'allowed: {sorted(allowed)}')


def protocol_digest(spec: Mapping) -> str:
    """Short stable hash of a protocol, used to name custom protocols."""
    blob = json.dumps(normalize_protocol(spec), sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:8]


def resolve_protocol(protocol: Union[str, Mapping, None],
                     table: Mapping[str, Mapping],
                     default: Optional[str] = None,
                     aliases: Optional[Mapping[str, str]] = None,
                     owner: str = 'dataset') -> Tuple[str, dict]:
    """Turn a protocol name or dict into ``(name, canonical dict)``.

    Args:
        protocol (str | dict | None): A name from ``table`` (or ``aliases``),
            a protocol dict, or None for ``default``.
        table (Mapping): Named protocols of the dataset.
        default (str, optional): Name used when ``protocol`` is None.
        aliases (Mapping, optional): Other accepted names -> table names.
        owner (str): Dataset name, for error messages.

    Returns:
        tuple: Protocol name (``custom-<hash>`` for dicts) and its dict.
    """
    aliases = aliases or {}
    if protocol is None:
        protocol = default
    if isinstance(protocol, str):
        name = aliases.get(protocol, protocol)
        if name not in table:
            known = sorted(set(table) | set(aliases))
            raise ValueError(f'{owner} has no protocol {protocol!r}; '
                             f'known protocols: {known}, or pass a dict')
        return name, normalize_protocol(table[name])
    if isinstance(protocol, Mapping):
        return f'custom-{protocol_digest(protocol)}', normalize_protocol(
            protocol)
    raise TypeError(f'{owner}: protocol must be a name or a dict, got '
                    f'{protocol!r}')


# The three CIFAR-10 hashing protocols (DESIGN: spec/methods.md §1.5), also
# used for other pools that come as an official train/test partition
# (MNIST, USPS). Per-class counts are CIFAR-10's; 'c' is seed-free.
STANDARD_PROTOCOLS = {
    # 100 query + 500 train per class; database = the rest (train excluded)
    'a': per_class_protocol(100, 500, 'rest'),
    # 100 query per class; database = all but queries; train 500 per class
    # drawn from the database
    'b': per_class_protocol(100, 500, 'rest_plus_train'),
    # official test set = query; official training set = train = database
    'c': partition_protocol(query='test', train='train', database='train'),
}
