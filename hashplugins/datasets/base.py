"""Base class of the single-label datasets that are cut by a protocol.

A subclass only says how to read its *pool* (every image of the dataset,
in a fixed order, with its class); this base turns the pool into the
``train`` / ``query`` / ``database`` part of a saved protocol split
(:mod:`hashplugins.datasets.splits`), or the whole pool for ``'all'``
(a domain used whole in transfer settings).

Data info keys: ``pool_index`` (position in the pool, which split files
refer to), ``gt_label`` (int), ``img_path`` (file-based pools) or ``img``
plus ``ori_shape``/``img_shape`` (in-memory pools), and ``domain`` when
``domain_id`` is given; mmengine adds ``sample_idx``.

In-memory pools (MNIST, USPS, the CIFAR-10 pickles) hand the decoded image
over directly, so their pipelines must not start with
``LoadImageFromFile``; file-based pools need it.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmengine.logging import print_log
from mmpretrain.datasets import BaseDataset

from .protocols import resolve_protocol
from .splits import Split, carve_validation, load_or_create_split
from .utils import (drop_plain_file_loader, pipeline_loads_files,
                    prepare_naming_sample)

SPLITS = ('train', 'val', 'query', 'database', 'all')
VALIDATION_KEYS = ('num_per_class', 'seed')


@dataclass
class Pool:
    """Every image of a dataset, in the fixed order split files index.

    Attributes:
        name (str): Name of the pool for the split cache and meta.json
            (two pools may share split files only if they share a name).
        labels (np.ndarray): (N,) int64 class indices.
        classes (tuple[str]): Class names; index = label.
        img_paths (list[str], optional): Absolute image paths (file pools).
        images (np.ndarray, optional): (N, H, W) gray or (N, H, W, 3) BGR
            uint8 images (in-memory pools).
        partitions (dict, optional): Official partitions, name -> indices.
        items (list[str], optional): Stable identifiers (relative paths)
            whose checksum guards saved splits against a changed folder.
    """
    name: str
    labels: np.ndarray
    classes: Tuple[str, ...]
    img_paths: Optional[List[str]] = None
    images: Optional[np.ndarray] = None
    partitions: Optional[Dict[str, np.ndarray]] = None
    items: Optional[List[str]] = None


class SingleLabelHashingDataset(BaseDataset):
    """A protocol split (or the whole) of a single-label image pool.

    Subclasses set ``PROTOCOLS`` (name -> protocol dict), optionally
    ``PROTOCOL_ALIASES``, ``DEFAULT_PROTOCOL`` and ``IN_MEMORY``, and
    implement :meth:`load_pool`.

    A validation set for tuning can be cut from the training split
    (``validation=dict(num_per_class=..., seed=...)``): ``split='val'`` is
    that held-out part and ``split='train'`` the rest; a validation protocol
    retrieves ``'val'`` queries from the ``'train'`` images
    (``configs/dadh/dadh_lenet5_mnist-val_16bit.py``, docs/datasets.md).

    Args:
        split (str): 'train', 'val' (needs ``validation``), 'query',
            'database', or 'all' (whole pool).
        protocol (str | dict, optional): Protocol name from ``PROTOCOLS``
            (or an alias), or a protocol dict; None = ``DEFAULT_PROTOCOL``.
        seed (int): Seed of the split.
        split_dir (str, optional): Where the split files live; default
            a folder under ``$HASHPLUGINS_CACHE/splits/<pool>/`` per
            protocol, seed and data root
            (:func:`~hashplugins.datasets.splits.default_split_dir`).
        domain_id (int, optional): Put ``domain=domain_id`` in every data
            info (0 = source, 1 = target in transfer settings).
        validation (dict, optional): ``num_per_class`` (int) and ``seed``
            (int, default 0) of a validation set cut per class from the
            training split (:func:`~hashplugins.datasets.splits.
            carve_validation`); 'train' then excludes it. Ignored by
            'query' and 'database'. None: no validation set.
        **kwargs: Passed to :class:`mmpretrain.datasets.BaseDataset`
            (``pipeline``, ``test_mode``, ``lazy_init``, ``indices``, ...).
    """

    PROTOCOLS: Dict[str, dict] = {}
    PROTOCOL_ALIASES: Dict[str, str] = {}
    DEFAULT_PROTOCOL: Optional[str] = None
    IN_MEMORY = False
    # In-memory pools whose images are exactly what a plain
    # LoadImageFromFile makes (uint8 HxWx3 BGR) set this True: such a
    # loader in the pipeline is then skipped instead of refused.
    SKIPS_PLAIN_FILE_LOADER = False
    # Gray in-memory images are handed out as HxWx3 (equal channels) unless
    # a subclass sets this False (then HxWx1).
    three_channels = True

    def __init__(self,
                 split: str = 'train',
                 protocol=None,
                 seed: int = 0,
                 split_dir: Optional[str] = None,
                 domain_id: Optional[int] = None,
                 validation: Optional[dict] = None,
                 **kwargs):
        owner = type(self).__name__
        if split not in SPLITS:
            raise ValueError(f'{owner}: split={split!r} is not one of '
                             f'{SPLITS}')
        if validation is not None:
            if not isinstance(validation, dict) or \
                    'num_per_class' not in validation or \
                    set(validation) - set(VALIDATION_KEYS):
                raise ValueError(
                    f'{owner}: validation must be a dict with num_per_class '
                    f'(and optionally seed), got {validation!r}')
        elif split == 'val':
            raise ValueError(
                f"{owner}: split='val' needs validation=dict(num_per_class="
                '..., seed=...), the validation set cut from the training '
                'split')
        if split == 'all' and validation is not None:
            raise ValueError(f"{owner}: validation does not apply to "
                             "split='all' (the whole pool)")
        if domain_id is not None and not isinstance(domain_id, int):
            raise TypeError(f'{owner}: domain_id must be an int (0 = source, '
                            f'1 = target), got {domain_id!r}')
        pipeline = kwargs.get('pipeline', ())
        if self.IN_MEMORY and self.SKIPS_PLAIN_FILE_LOADER:
            pipeline, dropped = drop_plain_file_loader(pipeline)
            if dropped:
                kwargs['pipeline'] = pipeline
                print_log(
                    f'{owner}: the images are decoded in memory; the '
                    "pipeline's LoadImageFromFile is skipped (it would "
                    'make the same arrays)',
                    logger='current')
        if self.IN_MEMORY and pipeline_loads_files(pipeline):
            raise ValueError(
                f'{owner} holds decoded images in memory (data info key '
                "'img', no 'img_path'); remove LoadImageFromFile from its "
                'pipeline')
        self.split = split
        self.seed = seed
        self.split_dir = split_dir
        self.domain_id = domain_id
        self.validation = None if validation is None else dict(validation)
        self.protocol_name, self.protocol = resolve_protocol(
            protocol, self.PROTOCOLS, self.DEFAULT_PROTOCOL,
            self.PROTOCOL_ALIASES, owner)
        self._images: Optional[np.ndarray] = None
        self.pool_size: Optional[int] = None
        super().__init__(ann_file='', **kwargs)

    def load_pool(self) -> Pool:
        """Read the whole pool (subclasses implement)."""
        raise NotImplementedError

    def load_split(self, pool: Pool) -> Split:
        """The saved split of ``pool`` by this dataset's protocol and seed
        (drawn and written on first use)."""
        return load_or_create_split(
            self.split_dir,
            pool.name,
            pool.labels,
            self.protocol,
            self.seed,
            partitions=pool.partitions,
            items=pool.items,
            protocol_name=self.protocol_name,
            source=self.data_root or None)

    def select_indices(self, pool: Pool) -> np.ndarray:
        """Pool indices of this dataset's split (or all for 'all')."""
        if self.split == 'all':
            return np.arange(len(pool.labels))
        if self.validation is None or self.split not in ('train', 'val'):
            return self.load_split(pool)[self.split]
        fit, val = carve_validation(
            self.load_split(pool)['train'], pool.labels,
            self.validation['num_per_class'],
            self.validation.get('seed', 0))
        return fit if self.split == 'train' else val

    def load_data_list(self) -> List[dict]:
        """Load the pool, cut the split, and build the data infos."""
        pool = self.load_pool()
        classes = self._metainfo.get('classes')
        if classes is None:
            self._metainfo['classes'] = tuple(pool.classes)
        elif tuple(classes) != tuple(pool.classes):
            raise ValueError(
                f'{type(self).__name__}: the data has classes '
                f'{tuple(pool.classes)}, the metainfo/classes argument says '
                f'{tuple(classes)}')
        self.pool_size = len(pool.labels)
        self._images = pool.images
        indices = self.select_indices(pool)
        if len(indices) == 0:
            # mmengine cannot serialize an empty dataset; say why it is.
            raise ValueError(
                f'{type(self).__name__}: split={self.split!r} is empty under '
                f'protocol {self.protocol_name} {self.protocol}')
        infos = []
        for i in indices:
            info = dict(pool_index=int(i), gt_label=int(pool.labels[i]))
            if pool.img_paths is not None:
                info['img_path'] = pool.img_paths[i]
            if self.domain_id is not None:
                info['domain'] = self.domain_id
            infos.append(info)
        return infos

    def get_data_info(self, idx: int) -> dict:
        """Data info of sample ``idx``; in-memory pools attach ``img``.

        Images stay in one pool array (not in every serialized data info)
        so that dataloader workers share them; a fresh HxWx3 copy is made
        per access because transforms may modify it in place.
        """
        info = super().get_data_info(idx)
        if self._images is not None:
            img = self._images[info['pool_index']]
            if img.ndim == 2 and self.three_channels:
                # Gray -> 3 equal channels, so any RGB backbone runs as-is.
                img = np.repeat(img[:, :, None], 3, axis=2)
            elif img.ndim == 2:
                img = img[:, :, None].copy()  # HxWx1 -> a 1xHxW tensor
            else:
                img = img.copy()
            info['img'] = img
            info['img_shape'] = img.shape[:2]
            info['ori_shape'] = img.shape[:2]
        return info

    def prepare_data(self, idx: int):
        """The pipeline's output; errors name the sample and its file."""
        return prepare_naming_sample(self, idx)

    def extra_repr(self) -> List[str]:
        """Lines of ``repr`` after the sample count."""
        body = [f'Split: \t{self.split}']
        if self.split != 'all':
            body.append(f'Protocol: \t{self.protocol_name} {self.protocol}')
            body.append(f'Seed: \t{self.seed}')
            if self.validation is not None and self.split in ('train',
                                                              'val'):
                body.append(f'Validation: \t{self.validation}')
        if self.pool_size is not None:
            body.append(f'Pool size: \t{self.pool_size}')
        return body
