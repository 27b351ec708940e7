"""Check a config's data paths before the Runner is built.

Building mmengine's Runner logs the environment and the whole config
(hundreds of lines) before any dataset is built, so a missing data folder
used to end a 400-line log with a traceback. :func:`check_data_roots` walks
the dataloader configs first and, for every dataset config whose class
describes its data (a ``DATA_LAYOUT`` attribute), checks that
``data_root`` (and ``ann_file``, relative to it unless absolute) exists;
the first missing one raises :class:`~hashplugins.datasets.errors.
DataNotFoundError` naming the dotted config key, the expected layout and
how to get the data. A dataset with ``download=True`` (and any other
dataset of the config sharing its ``data_root``) is not checked: building
it fetches the data.

:func:`data_error_message` is what the tools print for such an error
instead of the traceback, unless :func:`show_traceback`
(``HASHPLUGINS_TRACEBACK=1``).
"""
import os
import os.path as osp
from typing import Iterator, List, Sequence, Tuple

from mmpretrain.registry import DATASETS

from .errors import DataNotFoundError, data_not_found

TRACEBACK_ENV = 'HASHPLUGINS_TRACEBACK'
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _dataset_configs(node, key: str) -> Iterator[Tuple[str, dict]]:
    """(dotted key, dict) of every dict with ``type`` and ``data_root``
    under ``node`` (wrappers are walked into)."""
    if isinstance(node, dict):
        if 'type' in node and 'data_root' in node:
            yield key, node
        for k, v in node.items():
            if isinstance(v, (dict, list, tuple)):
                yield from _dataset_configs(v, f'{key}.{k}')
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _dataset_configs(v, f'{key}[{i}]')


def _dataset_class(type_):
    if isinstance(type_, type):
        return type_
    try:
        return DATASETS.get(type_)
    except Exception:  # an unknown type fails later, with mmengine's error
        return None


def _path(p) -> str:
    return osp.abspath(osp.expanduser(str(p)))


def check_data_roots(cfg, loaders: Sequence[str] = LOADERS) -> None:
    """Raise :class:`DataNotFoundError` for the first missing data path.

    Args:
        cfg: The merged config (``mmengine.Config`` or dict).
        loaders (Sequence[str]): Dataloader fields to check (``None``
            dataloaders, e.g. after ``--no-validate``, are skipped).
    """
    found: List[Tuple[str, dict]] = []
    for field in loaders:
        loader = cfg.get(field) if hasattr(cfg, 'get') else None
        if isinstance(loader, dict) and loader.get('dataset') is not None:
            found += _dataset_configs(loader['dataset'], f'{field}.dataset')
    downloads = {
        _path(c['data_root'])
        for _, c in found if c.get('download') and c['data_root']
    }
    for key, c in found:
        cls = _dataset_class(c['type'])
        root = c['data_root']
        if cls is None or not getattr(cls, 'DATA_LAYOUT', None) or not \
                isinstance(root, str) or not root or _path(root) in downloads:
            continue
        if not osp.exists(_path(root)):
            raise data_not_found(
                cls, f'{key}.data_root={_path(root)} does not exist '
                f'({cls.__name__})',
                data_root=root)
        ann = c.get('ann_file')
        if isinstance(ann, str) and ann:
            ann_path = _path(osp.join(osp.expanduser(root), ann))
            if not osp.isfile(ann_path):
                raise data_not_found(
                    cls, f'{key}.ann_file={ann_path} does not exist '
                    f'({cls.__name__}, relative to data_root unless '
                    'absolute)',
                    data_root=root)


def show_traceback() -> bool:
    """Whether ``$HASHPLUGINS_TRACEBACK`` asks for full tracebacks."""
    return os.environ.get(TRACEBACK_ENV, '') not in ('', '0')


def data_error_message(err: DataNotFoundError) -> str:
    """What a tool prints for a data error instead of the traceback."""
    return (f'error: {err}\n'
            f'(set {TRACEBACK_ENV}=1 to see the traceback)')
