"""Encode images into binary codes with a trained hashing model.

Modelled on mmpretrain's inferencers (``mmpretrain.apis``): built from a
config and a checkpoint, the test pipeline taken from the config with its
``LoadImageFromFile`` replaced by our own loading, batches fed to
``model.test_step`` (the model's predict path, so every hasher works:
``DeepHasher``, ``TransferHasher``, ``DualAsymmetricHasher``,
``GANRegularizedHasher``), progress shown with ``mmpretrain.utils.track``.
"""
import copy
import hashlib
import os.path as osp
from typing import List, NamedTuple, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint
from torch.utils.data import DataLoader, Subset

from hashplugins.datasets.collate import stack_inputs
from hashplugins.evaluation.functional.codes import (batch_to_host,
                                                     binarize,
                                                     binarize_batch,
                                                     is_tensor, to_host)
from hashplugins.retrieval.binary_index import BinaryIndex, config_hash
from .image_inputs import ImageInput, ImageInputDataset, list_images

SPLITS = ('query', 'database')


class EncodedImages(NamedTuple):
    """Codes of a set of images, in input order.

    Attributes:
        codes: ``(n, B)`` ``int8`` ±1 codes.
        packed: ``(n, ceil(B/8))`` ``uint8`` packed codes.
        ids: ``(n,)`` ``int64``: input position, or the dataset's
            ``sample_idx`` for a dataset.
        paths: Image file per row (``''`` for arrays / in-memory data).
        labels: ``(n, C)`` ``uint8`` 0/1 matrix when the samples carry
            ``gt_label``, else ``None``.
        classes: Class names of a dataset's ``metainfo``, when known.
    """
    codes: np.ndarray
    packed: np.ndarray
    ids: np.ndarray
    paths: List[str]
    labels: Optional[np.ndarray]
    classes: Optional[List[str]] = None


def _sha256_prefix(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()[:16]


def test_pipeline_cfg(cfg: Config, dataloader: str = 'test_dataloader'):
    """The test pipeline of ``cfg``: ``<dataloader>.dataset.pipeline``
    (the :class:`QueryDatabaseDataset` wrapper's), else ``test_pipeline``.
    """
    dataset = cfg.get(dataloader, {}).get('dataset', {})
    pipeline = dataset.get('pipeline') or cfg.get('test_pipeline')
    if not pipeline:
        raise KeyError(f'{cfg.filename}: no test pipeline found (looked at '
                       f'{dataloader}.dataset.pipeline and test_pipeline)')
    return copy.deepcopy(list(pipeline))


class HashEncoder:
    """Binary codes from images with a hashing model.

    Args:
        config: Config file path or :class:`~mmengine.config.Config`.
        checkpoint: Checkpoint path; loaded with ``weights_only=True``
            through :mod:`hashplugins.engine.runner.checkpoint` (a file that
            needs a full unpickle is refused unless trust was given). ``None``
            keeps the initial weights (tests, benchmarks).
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ... Default: CUDA when
            available, else CPU.
        cfg_options: Overrides merged into the config.
        dataloader: Config key whose dataset defines the test pipeline and
            the default dataset of :meth:`encode_dataset`.

    Examples:
        >>> encoder = HashEncoder('configs/dpsh/dpsh_r50_cifar10_48bit.py',
        ...                       'epoch_50.pth', device='cuda')
        >>> out = encoder('photos/', batch_size=64)   # folder, files, arrays
        >>> out.codes.shape, out.packed.shape          # (n, 48), (n, 6)
        >>> db = encoder.encode_dataset(split='database')
        >>> index = encoder.new_index()
        >>> index.add(db.packed, ids=db.ids, labels=db.labels)
    """

    def __init__(self,
                 config: Union[str, Config],
                 checkpoint: Optional[str] = None,
                 device: Optional[str] = None,
                 cfg_options: Optional[dict] = None,
                 dataloader: str = 'test_dataloader'):
        cfg = Config.fromfile(config) if isinstance(config, str) \
            else copy.deepcopy(config)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        import hashplugins  # noqa: F401  (registers our components)
        from mmpretrain.registry import MODELS
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.cfg = cfg
        self.dataloader = dataloader
        self.checkpoint = checkpoint
        model_cfg = copy.deepcopy(cfg.model)
        if cfg.get('data_preprocessor') is not None:
            # As mmengine's Runner does: the top-level preprocessor is the
            # model's unless the model sets its own.
            model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
        with self._scope():
            model = MODELS.build(model_cfg)
        if checkpoint is not None:
            load_checkpoint(model, checkpoint, map_location='cpu',
                            strict=True)
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.pipeline_cfg = test_pipeline_cfg(cfg, dataloader)
        self.color_type = self._color_type()
        self._pipeline = None
        self.num_bits = getattr(model, 'num_bits', None)

    @staticmethod
    def _scope():
        return DefaultScope.overwrite_default_scope('mmpretrain')

    def _color_type(self) -> str:
        for t in self.pipeline_cfg:
            if t.get('type', '').split('.')[-1] == 'LoadImageFromFile':
                return t.get('color_type', 'color')
        # In-memory datasets (MNIST) have no loader: gray models have a
        # one-channel normalization.
        mean = getattr(self.model.data_preprocessor, 'mean', None)
        return 'grayscale' if mean is not None and mean.numel() == 1 \
            else 'color'

    @property
    def pipeline(self):
        """The test pipeline without ``LoadImageFromFile`` (built once)."""
        if self._pipeline is None:
            from mmpretrain.datasets import remove_transform
            from mmpretrain.registry import TRANSFORMS
            cfgs = remove_transform(self.pipeline_cfg, 'LoadImageFromFile')
            with self._scope():
                self._pipeline = Compose([TRANSFORMS.build(t) for t in cfgs])
        return self._pipeline

    # ------------------------------------------------------------ metadata
    def index_meta(self) -> dict:
        """Metadata for an index of this encoder's codes: ``method`` (the
        model type), ``config_hash`` (of the model and test pipeline, which
        decide the codes), config and checkpoint provenance, ``classes``."""
        meta = dict(
            method=self.cfg.model.get('type'),
            config_hash=config_hash(
                dict(model=self.cfg.model.to_dict(),
                     pipeline=self.pipeline_cfg)),
            config=self.cfg.filename,
            checkpoint=self.checkpoint)
        if self.checkpoint is not None and osp.isfile(self.checkpoint):
            meta['checkpoint_sha256'] = _sha256_prefix(self.checkpoint)
        return meta

    def new_index(self, backend: str = 'auto', **kwargs) -> BinaryIndex:
        """An empty :class:`BinaryIndex` for this encoder's codes."""
        if self.num_bits is None:
            raise RuntimeError('code length unknown until the first batch '
                               'is encoded')
        return BinaryIndex(
            self.num_bits, backend=backend, meta=self.index_meta(), **kwargs)

    # ------------------------------------------------------------ encoding
    def __call__(self,
                 inputs: Union[ImageInput, Sequence[ImageInput]],
                 batch_size: int = 32,
                 split: str = 'query',
                 num_workers: int = 0,
                 progress: bool = True) -> EncodedImages:
        """Encode image files, folders (recursively) or arrays.

        Args:
            inputs: A path (file or folder), an array, or a list of them.
                Arrays are ``(H, W, 3)`` BGR or ``(H, W)`` gray ``uint8``.
            batch_size: Images per forward pass.
            split: ``'query'`` or ``'database'``: which code asymmetric
                models (DADH) produce.
            num_workers: Data-loader workers reading images.
            progress: Show a progress bar.
        """
        self._check_split(split)
        items = list_images(inputs)
        dataset = ImageInputDataset(items, self.pipeline, self.color_type,
                                    split)
        out = self._encode(dataset, batch_size, split, num_workers, progress)
        paths = [p if isinstance(p, str) else '' for p in items]
        return out._replace(paths=paths)

    def encode_dataset(self,
                       dataset=None,
                       split: str = 'database',
                       subset: Optional[Sequence[int]] = None,
                       batch_size: int = 64,
                       num_workers: int = 0,
                       progress: bool = True) -> EncodedImages:
        """Encode a dataset (its own pipeline applies).

        Args:
            dataset: A dataset config dict or dataset; default the dataset
                of ``cfg[dataloader]``.
            split: For a query/database dataset, ``'query'``,
                ``'database'`` or ``'all'``; other datasets are encoded
                whole (``split`` then only tells asymmetric models which
                code to produce; ``'all'`` means ``'database'``).
            subset: Positions inside the split to encode (default all).
            batch_size, num_workers, progress: As in :meth:`__call__`.

        Returns:
            :class:`EncodedImages`; ``ids`` are the dataset indices
            (``sample_idx``), ``paths`` the ``img_path`` of each sample.
        """
        if split not in SPLITS + ('all', ):
            raise ValueError(f"split must be 'query', 'database' or 'all'; "
                             f'got {split!r}')
        if dataset is None or isinstance(dataset, dict):
            dataset = self.build_dataset(dataset)
        indices = np.arange(len(dataset))
        if split != 'all' and hasattr(dataset, 'query') \
                and hasattr(dataset, 'database'):
            num_q = len(dataset.query)
            indices = indices[:num_q] if split == 'query' \
                else indices[num_q:]
        if subset is not None:
            subset = np.asarray(subset, dtype=np.int64)
            if subset.size and (subset.min() < 0
                                or subset.max() >= len(indices)):
                raise IndexError(f'subset positions must be in [0, '
                                 f'{len(indices)}) for split {split!r}')
            indices = indices[subset]
        tag = 'database' if split == 'all' else split
        out = self._encode(
            Subset(dataset, indices.tolist()), batch_size, tag, num_workers,
            progress)
        # The img_path the pipeline carried; the dataset's data info only
        # for samples without one, and only where the pipeline may have
        # dropped it: get_data_info copies the image of an in-memory
        # dataset (~6 us a sample of the ~140 us of a LeNet-5 encode).
        ask = hasattr(dataset, 'get_data_info') and \
            not _packs_img_path(dataset)
        paths = [
            str(p) if p is not None else
            str(dataset.get_data_info(int(i)).get('img_path', ''))
            if ask else '' for i, p in zip(indices, out.paths)
        ]
        classes = getattr(dataset, 'metainfo', {}).get('classes')
        return out._replace(
            ids=indices.astype(np.int64),
            paths=paths,
            classes=list(classes) if classes else None)

    def build_dataset(self, dataset: Optional[dict] = None):
        """Build ``dataset`` (a config dict; default the dataset of
        ``cfg[dataloader]``) in mmpretrain's scope."""
        from mmpretrain.registry import DATASETS
        if dataset is None:
            dataset = self.cfg[self.dataloader]['dataset']
        with self._scope():
            return DATASETS.build(copy.deepcopy(dataset))

    def _check_split(self, split: str) -> None:
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}; got '
                             f'{split!r}')

    def _collate_fn(self):
        """``pseudo_collate``, with the inputs stacked into one tensor where
        the model's preprocessor gives the same result for it.

        mmpretrain's ``ClsDataPreprocessor`` normalizes a list of images
        one by one before stacking them (about 15 us per image), a stacked
        batch in one go; for images of one shape and dtype both branches
        compute the same elementwise values. Other preprocessors get the
        list.
        """
        from mmpretrain.models.utils import ClsDataPreprocessor
        forward = getattr(type(self.model.data_preprocessor), 'forward',
                          None)
        return stack_collate if forward is ClsDataPreprocessor.forward \
            else pseudo_collate

    @torch.no_grad()
    def _encode(self, dataset, batch_size, split, num_workers,
                progress) -> EncodedImages:
        from mmpretrain.utils import track
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=False,
            num_workers=num_workers,
            collate_fn=self._collate_fn())
        batches = track(loader, 'Encoding', total=len(loader)) \
            if progress else loader
        bits, labels, paths = [], _LabelColumn(), []
        for data in batches:
            samples = data['data_samples']
            for sample in samples:
                # Asymmetric models read the split; set it whatever the
                # pipeline's meta keys are (set_field: set_metainfo would
                # deep-copy a dict per sample).
                sample.set_field(split, 'split', field_type='metainfo')
            paths.extend(s.get('img_path') for s in samples)
            samples = self.model.test_step(data)
            # One host read per batch for the codes and one for the labels.
            bits.append(_batch_bits([s.hash_code for s in samples]))
            labels.append([s.get('gt_label') for s in samples])
        if not bits:
            raise ValueError('nothing to encode: the input is empty')
        bits = np.concatenate(bits)
        if self.num_bits is None:
            self.num_bits = bits.shape[1]
        codes = bits.astype(np.int8) * 2 - 1
        # paths: the samples' img_path metainfo (None where the pipeline
        # carries none); encode_dataset fills those from the dataset.
        return EncodedImages(codes, np.packbits(bits, axis=1),
                             np.arange(len(codes), dtype=np.int64), paths,
                             labels.multihot(self._label_width()))

    def _label_width(self) -> int:
        """The head's ``num_classes``: the fewest label columns."""
        classes = self.cfg.get('model', {}).get('head', {}).get(
            'num_classes')
        return int(classes or 0)


def _packs_img_path(dataset) -> bool:
    """Whether ``dataset``'s pipeline ends in a packer that copies
    ``img_path`` into each sample's metainfo whenever the results hold one
    (mmpretrain's ``PackInputs``, our ``PackHashInputs``, with their
    default ``meta_keys``). A sample packed without ``img_path`` then had
    none in its data info (no transform of mmcv or mmpretrain removes it),
    so asking ``get_data_info`` again would only give ``''``."""
    transforms = getattr(getattr(dataset, 'pipeline', None), 'transforms',
                         None)
    if not transforms:
        return False
    meta_keys = getattr(transforms[-1], 'meta_keys', None)
    return isinstance(meta_keys, (list, tuple)) and 'img_path' in meta_keys


def stack_collate(batch: Sequence[dict]) -> dict:
    """``pseudo_collate`` with ``inputs`` stacked into one tensor when they
    are tensors of one shape, dtype and device (else left a list, as
    ``pseudo_collate`` gives it). The stacking is
    :func:`hashplugins.datasets.collate.stack_inputs` (in shared memory
    inside a dataloader worker)."""
    data = pseudo_collate(batch)
    if isinstance(data, dict) and isinstance(data.get('inputs'), list):
        data['inputs'] = stack_inputs(data['inputs'])
    return data


def _batch_bits(codes: list) -> np.ndarray:
    """``(n, B)`` bool bits of a batch's per-sample codes, one host read.

    Codes of one shape, dtype and device (the predict path's rows of one
    batch tensor) are stacked where they are; anything else goes through
    :func:`binarize_batch`, which also names the error of ragged codes.
    """
    if codes and all(is_tensor(c) for c in codes) and len(
            {(c.shape, c.dtype, c.device) for c in codes}) == 1:
        host = to_host(torch.stack(codes).reshape(len(codes), -1))
        return binarize(host, 'hash_code')
    return binarize_batch(codes, 'hash_code')


class _LabelColumn:
    """The per-sample labels of the encoded batches: read to the host once
    per batch, kept flat (indices + counts per sample), made a 0/1 matrix
    once at the end (a per-row Python loop cost ~1 us a sample)."""

    def __init__(self):
        self.flat, self.counts = [], []
        self.missing = False

    def append(self, values: list) -> None:
        if self.missing or any(v is None for v in values):
            self.missing = True  # a sample without labels: no matrix
            return
        if values and all(is_tensor(v) for v in values) and len(
                {v.device for v in values}) == 1:
            # DataSample keeps gt_label 1-D: concatenated as they are (a
            # reshape per sample cost ~1 us, two thirds of this call).
            flat = values if all(v.dim() == 1 for v in values) else [
                v.reshape(-1) for v in values
            ]
            self.flat.append(to_host(torch.cat(flat).to(torch.int64)))
            self.counts.append(
                np.array([v.numel() for v in flat], dtype=np.int64))
        else:
            rows = batch_to_host(values, np.int64)
            self.flat.append(
                np.concatenate(rows) if rows else np.zeros(0, np.int64))
            self.counts.append(
                np.array([len(r) for r in rows], dtype=np.int64))

    def multihot(self, min_width: int = 0) -> Optional[np.ndarray]:
        """``(n, C)`` ``uint8`` 0/1 matrix with ``C = max(label) + 1`` (at
        least ``min_width`` and 1); ``None`` when a sample had no label."""
        if self.missing:
            return None
        flat = np.concatenate(self.flat)
        counts = np.concatenate(self.counts)
        width = max(int(flat.max()) + 1 if flat.size else 1, min_width)
        out = np.zeros((len(counts), width), dtype=np.uint8)
        out[np.repeat(np.arange(len(counts)), counts), flat] = 1
        return out
