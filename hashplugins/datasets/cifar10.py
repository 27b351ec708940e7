"""CIFAR-10 for hashing: the three published protocols over 60,000 images.

Reads either the official python pickles or an image-folder copy (such as
the shared JPEG copy), in the official order: the five training batches
(50,000) then the test batch (10,000). Protocols (methods.md §1.5; the
DeepHash-pytorch names in brackets):

- ``'a'`` [``'cifar10'``], the default: 1,000 query (100/class), 5,000
  train (500/class), database = the other 54,000 (train excluded);
- ``'b'`` [``'cifar10-1'``]: 1,000 query, database = the other 59,000,
  5,000 train (500/class) drawn from the database;
- ``'c'`` [``'cifar10-2'``]: the 10,000 official test images are the
  query set, the 50,000 training images are both train and database.
"""
import codecs
import os.path as osp
import pickle
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
from mmengine.logging import print_log
from mmpretrain.datasets.categories import CIFAR10_CATEGORIES
from mmpretrain.registry import DATASETS

from .archive import resolve_root
from .base import Pool, SingleLabelHashingDataset
from .cifar10_download import (  # noqa: F401  (URL and md5 re-exported)
    CIFAR10_MD5, CIFAR10_URL, PICKLE_FOLDER, TEST_BATCH, TRAIN_BATCHES,
    download_cifar10, download_options)
from .cifar10_download import has_pickles as _has_pickles
from .errors import config_key_hint, data_not_found
from .image_folder import list_class_dirs, scan_class_folders
from .protocols import STANDARD_PROTOCOLS

KNOWN_ARCHIVES = ('CIFAR-10-images.tar.gz', 'cifar-10-python.tar.gz')
ORDER_FILE = 'official_order.npz'
CIFAR10_LAYOUT = (
    f'<data_root>/{PICKLE_FOLDER}/{{data_batch_1..5,test_batch}} (the '
    'official pickles, also directly in <data_root>), or '
    '<data_root>/{train,test}/<class>/*.jpg with official_order.npz, or an '
    f'archive of either (such as {" or ".join(KNOWN_ARCHIVES)})')
CIFAR10_HOWTO = (
    'python tools/dataset_converters/download_cifar10.py <data_root> '
    '(or download=True in the dataset config); see docs/datasets.md, '
    '"CIFAR-10"')


def _numpy_global(module: str, name: str):
    # numpy 2 moved numpy.core to numpy._core; pickles name the old path.
    core = getattr(np, '_core', None) or np.core
    table = {
        ('numpy', 'ndarray'): np.ndarray,
        ('numpy', 'dtype'): np.dtype,
        ('multiarray', '_reconstruct'): core.multiarray._reconstruct,
        ('multiarray', 'scalar'): core.multiarray.scalar,
    }
    if (module, name) == ('_codecs', 'encode'):
        # Python-3 writers of protocol-2 pickles encode bytes this way.
        return codecs.encode
    key = ('numpy', name) if module == 'numpy' else (module.split('.')[-1],
                                                     name)
    if module.startswith('numpy') and key in table:
        return table[key]
    return None


class _BatchUnpickler(pickle.Unpickler):
    """Unpickler that only admits what an official batch holds.

    The batches are dicts of bytes/str keys, lists of ints and one numpy
    array; refusing every other global means a tampered file cannot run
    code when it is loaded.
    """

    def __init__(self, f, path: str):
        super().__init__(f, encoding='bytes')
        self.path = path

    def find_class(self, module, name):
        obj = _numpy_global(module, name)
        if obj is None:
            raise pickle.UnpicklingError(
                f'{self.path}: refusing to load global {module}.{name}; an '
                'official CIFAR-10 batch holds only numpy arrays and lists')
        return obj


def read_cifar_batch(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Read one official CIFAR-10 python batch.

    Args:
        path (str): ``data_batch_N`` or ``test_batch``.

    Returns:
        tuple: (N, 32, 32, 3) uint8 BGR images (mmcv's channel order) and
        (N,) int64 labels.
    """
    with open(path, 'rb') as f:
        try:
            entry = _BatchUnpickler(f, path).load()
        except (pickle.UnpicklingError, EOFError, ValueError) as e:
            raise ValueError(f'{path} is not an official CIFAR-10 python '
                             f'batch: {e}') from e
    if not isinstance(entry, dict):
        raise ValueError(f'{path}: expected a dict batch, got {type(entry)}')
    data, labels = entry.get(b'data'), entry.get(b'labels')
    if (not isinstance(data, np.ndarray) or data.dtype != np.uint8
            or data.ndim != 2 or data.shape[1] != 3072):
        raise ValueError(f"{path}: b'data' must be an (N, 3072) uint8 array")
    labels = np.asarray(labels)
    if labels.shape != (len(data), ) or not np.issubdtype(
            labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{path}: b'labels' must be {len(data)} ints in "
                         '0..9')
    # Rows are RGB planes; to HWC, then BGR like mmcv's image loader.
    imgs = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)[..., ::-1]
    return np.ascontiguousarray(imgs), labels.astype(np.int64)


def _partitions(n_train: int, n: int) -> Dict[str, np.ndarray]:
    return {'train': np.arange(n_train), 'test': np.arange(n_train, n)}


@DATASETS.register_module()
class CIFAR10Hashing(SingleLabelHashingDataset):
    """CIFAR-10 cut by a hashing protocol (module docstring).

    ``data_root`` may be:

    - a folder with the official pickles (``data_batch_1``..``5``,
      ``test_batch``), directly or in ``cifar-10-batches-py/``: images are
      held in memory (data info ``img``; a plain ``LoadImageFromFile``
      in the pipeline is skipped, one with arguments is refused);
    - an image folder with ``train/<class>/*.jpg`` and
      ``test/<class>/*.jpg`` (data info ``img_path``). With
      ``official_order.npz`` (``order_file``, or found in the folder or
      next to the archive/folder) the rows follow the official order, so
      splits equal those of the pickles; without it paths are sorted and
      the pool is named ``cifar10_sorted`` (its splits differ);
    - an archive of either (``CIFAR-10-images.tar.gz``,
      ``cifar-10-python.tar.gz``), or a folder holding one: extracted once
      into ``$HASHPLUGINS_CACHE/extracted``.

    With ``download=True`` a ``data_root`` that holds none of these gets the
    official pickles (:func:`download_cifar10`: official URL and md5,
    atomic, resumable, safe extraction); one that does is used as is.

    Args:
        data_root (str): See above.
        order_file (str, optional): Path of ``official_order.npz``.
        download (bool | dict): Download the official pickles into
            ``data_root`` if it holds no copy. A dict passes ``url``,
            ``md5``, ``timeout`` to :func:`download_cifar10` (a mirror).
            Default False: nothing touches the network.
        **kwargs: ``split``, ``protocol``, ``seed``, ``split_dir``,
            ``domain_id`` of :class:`SingleLabelHashingDataset` (here
            ``protocol`` is 'a' (default), 'b', 'c', an alias 'cifar10',
            'cifar10-1', 'cifar10-2', or a protocol dict), and
            :class:`mmpretrain.datasets.BaseDataset` arguments.

    Data info keys: ``gt_label``, ``pool_index``, ``img_path`` (image
    folder) or ``img``/``ori_shape``/``img_shape`` (pickles), ``domain``.
    """

    METAINFO = dict(classes=tuple(CIFAR10_CATEGORIES))
    PROTOCOLS = STANDARD_PROTOCOLS
    PROTOCOL_ALIASES = {'cifar10': 'a', 'cifar10-1': 'b', 'cifar10-2': 'c'}
    DEFAULT_PROTOCOL = 'a'
    DATA_LAYOUT = CIFAR10_LAYOUT
    DATA_HOWTO = CIFAR10_HOWTO
    # The pickles decode to the uint8 BGR arrays LoadImageFromFile makes, so
    # the configs' plain loader is skipped for them (the same config reads
    # the pickles and the JPEG copy).
    SKIPS_PLAIN_FILE_LOADER = True

    def __init__(self,
                 data_root: str,
                 order_file: Optional[str] = None,
                 download: Union[bool, dict] = False,
                 **kwargs):
        self.order_file = order_file
        options = download_options(download)
        if options is not None:
            try:
                self._locate(data_root)
            except FileNotFoundError:
                download_cifar10(data_root, **options)
        # Decide the storage kind now: it fixes whether the pipeline may
        # load files (pickles are decoded into memory).
        self._folder, self._order_dirs = self._locate(data_root)
        self.IN_MEMORY = _has_pickles(self._folder)
        super().__init__(data_root=data_root, **kwargs)

    @classmethod
    def _locate(cls, data_root: str) -> Tuple[str, List[str]]:
        """Find the pickle folder or image folder behind ``data_root``.

        Returns:
            tuple: The folder, and folders to search for the order file.
        """
        path = osp.abspath(osp.expanduser(data_root)) if data_root else ''
        folder = resolve_root(path, 'data_root', cls)
        # official_order.npz sits in the image folder, in the data_root
        # folder beside the archive, or beside a data_root archive.
        order_dirs = [folder, path if osp.isdir(path) else osp.dirname(path)]
        if _has_pickles(folder):
            return folder, order_dirs
        if _has_pickles(osp.join(folder, PICKLE_FOLDER)):
            return osp.join(folder, PICKLE_FOLDER), order_dirs
        if osp.isdir(osp.join(folder, 'train')) and osp.isdir(
                osp.join(folder, 'test')):
            return folder, order_dirs
        raise data_not_found(
            cls, f'CIFAR10Hashing: data_root={path} holds no CIFAR-10 copy '
            f'({config_key_hint()})',
            data_root=path)

    def load_pool(self) -> Pool:
        """Read the pickles or the image folder."""
        if self.IN_MEMORY:
            return self._load_pickles()
        return self._load_image_folder()

    def _load_pickles(self) -> Pool:
        parts = [
            read_cifar_batch(osp.join(self._folder, f))
            for f in TRAIN_BATCHES + (TEST_BATCH, )
        ]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        n_train = sum(len(p[1]) for p in parts[:-1])
        return Pool(
            name='cifar10',
            labels=labels,
            classes=self.METAINFO['classes'],
            images=images,
            partitions=_partitions(n_train, len(labels)))

    def _find_order_file(self) -> Optional[str]:
        if self.order_file is not None:
            path = osp.abspath(osp.expanduser(self.order_file))
            if not osp.isfile(path):
                raise FileNotFoundError(f'order_file={path} does not exist')
            return path
        for folder in self._order_dirs:
            path = osp.join(folder, ORDER_FILE)
            if osp.isfile(path):
                return path
        return None

    def _load_image_folder(self) -> Pool:
        classes = self.METAINFO['classes']
        scanned = {}
        for part in ('train', 'test'):
            root = osp.join(self._folder, part)
            found = tuple(list_class_dirs(root))
            if found != tuple(sorted(classes)):
                raise ValueError(f'{root} has class folders {found}; CIFAR-10 '
                                 f'needs {classes}')
            _, rel, labels = scan_class_folders(root, classes)
            scanned[part] = ([f'{part}/{p}' for p in rel], labels)
        order_file = self._find_order_file()
        if order_file is None:
            print_log(
                f'CIFAR10Hashing: no {ORDER_FILE} beside {self._folder}; '
                'using sorted paths, so splits are not those of the official '
                'order (pool name cifar10_sorted)',
                logger='current')
            rel = scanned['train'][0] + scanned['test'][0]
            labels = np.concatenate([scanned['train'][1], scanned['test'][1]])
            name = 'cifar10_sorted'
        else:
            rel, labels = self._apply_order(order_file, scanned)
            name = 'cifar10'
        return Pool(
            name=name,
            labels=labels,
            classes=classes,
            img_paths=[f'{self._folder}/{p}' for p in rel],
            partitions=_partitions(len(scanned['train'][0]), len(rel)),
            # Official order is identified by its labels alone; with sorted
            # paths the file list is the pool's identity.
            items=None if name == 'cifar10' else rel)

    def _apply_order(self, order_file: str, scanned: dict):
        with np.load(order_file, allow_pickle=False) as z:
            missing = {'y_train', 'y_test', 'jpg_train', 'jpg_test'} - set(
                z.files)
            if missing:
                raise ValueError(
                    f'{order_file} lacks key(s) {sorted(missing)}')
            order = {
                p: (z[f'jpg_{p}'].astype(str), z[f'y_{p}'])
                for p in ('train', 'test')
            }
            npz_classes = tuple(z['classes'].astype(str).tolist()) if (
                'classes' in z.files) else None
        classes = self.METAINFO['classes']
        if npz_classes is not None and npz_classes != tuple(classes):
            raise ValueError(f'{order_file}: classes {npz_classes} are not '
                             f'the CIFAR-10 classes {classes}')
        rel_all, labels_all = [], []
        for part in ('train', 'test'):
            jpgs, ys = order[part]
            on_disk = set(scanned[part][0])
            listed = set(jpgs.tolist())
            if len(listed) != len(jpgs):
                raise ValueError(f'{order_file}: jpg_{part} repeats paths')
            if listed != on_disk:
                absent = sorted(listed - on_disk)[:3]
                extra = sorted(on_disk - listed)[:3]
                raise ValueError(
                    f'{order_file} does not match {self._folder}/{part}: '
                    f'listed but missing {absent}, present but unlisted '
                    f'{extra}')
            folder_labels = np.array(
                [classes.index(p.split('/')[1]) for p in jpgs])
            if not np.array_equal(folder_labels, ys):
                row = int(np.flatnonzero(folder_labels != ys)[0])
                raise ValueError(
                    f'{order_file}: y_{part}[{row}]={ys[row]} disagrees with '
                    f'the class folder of {jpgs[row]}')
            rel_all += jpgs.tolist()
            labels_all.append(ys.astype(np.int64))
        return rel_all, np.concatenate(labels_all)
