"""An opt-in in-memory cache of the deterministic start of a pipeline.

Small datasets (MNIST, USPS, CIFAR-10 at its native 32x32) are re-decoded
and re-resized every epoch, although ``LoadImageFromFile`` / ``Resize``
give the same pixels each time; on the DPSH quick start that is about half
of an epoch. :class:`DecodedCacheDataset` runs the leading deterministic
transforms of the wrapped dataset's pipeline once per sample, keeps the
resulting images (uint8 for these transforms) in one array, and runs only
the remaining transforms (random crops, flips, packing) per access. The
global random state is consumed exactly as without the cache (the cached
transforms draw no random numbers), so with the same seed the samples are
the same, random ones included.
"""
import copy
from typing import List, Optional, Tuple, Union

import numpy as np
from mmengine.dataset import Compose
from mmengine.logging import print_log
from mmpretrain.registry import DATASETS

from .utils import SampleLoadError, build_dataset

# Transforms that give the same output for the same input (no random
# draws) and are cheap to describe: the auto prefix stops at the first
# transform not listed here.
DETERMINISTIC_TRANSFORMS = ('LoadImageFromFile', 'Resize', 'ResizeEdge',
                            'CenterCrop')


def _type_name(transform) -> str:
    return type(transform).__name__


def _same(a, b) -> bool:
    try:
        return bool(np.array_equal(a, b)) if isinstance(
            a, np.ndarray) or isinstance(b, np.ndarray) else bool(a == b)
    except Exception:  # incomparable values: treat as changed
        return False


@DATASETS.register_module()
class DecodedCacheDataset:
    """Cache the deterministic leading transforms of a dataset's pipeline.

    Wrap any dataset with ``get_data_info`` and a ``pipeline`` (the
    project's datasets, mmengine ``BaseDataset`` subclasses,
    :class:`QueryDatabaseDataset`)::

        train_dataloader = dict(dataset=dict(
            type='DecodedCacheDataset',
            dataset=dict(type='CIFAR10Hashing', ..., pipeline=[
                dict(type='LoadImageFromFile'),   # cached
                dict(type='RandomCrop', crop_size=32, padding=4),  # per access
                dict(type='RandomFlip', prob=0.5),
                dict(type='PackHashInputs', num_classes=10)]),
            max_memory_mb=1024))

    On construction every sample's data info goes through the first
    ``num_cached`` transforms; the output images are kept (one stacked
    array when they share a shape) together with the data-info keys those
    transforms added or changed. ``dataset[i]`` then hands a fresh copy of
    the cached image (transforms may modify it in place) to the remaining
    transforms. Other attributes (``metainfo``, ``num_query``,
    ``get_cat_ids``...) are those of the wrapped dataset.

    The cache is built in the process that builds the dataset, before
    dataloader workers fork, so workers share it; each distributed rank
    builds its own.

    Args:
        dataset (dict | Dataset): The dataset or its config; its pipeline is
            split into the cached part and the per-access part.
        num_cached (int | str): How many leading transforms to cache.
            ``'auto'`` (default): the leading transforms whose type is in
            ``DETERMINISTIC_TRANSFORMS`` (``LoadImageFromFile``,
            ``Resize``, ``ResizeEdge``, ``CenterCrop``). An int caches that
            many; the caller asserts they draw no random numbers.
        max_memory_mb (float): Refuse to cache more than this many MiB of
            images (estimated from the first sample, checked while
            filling). Defaults to 2048.

    Raises:
        ValueError: If nothing would be cached, ``num_cached`` is out of
            range, or the images exceed ``max_memory_mb``.
    """

    def __init__(self,
                 dataset: Union[dict, object],
                 num_cached: Union[int, str] = 'auto',
                 max_memory_mb: float = 2048,
                 lazy_init: bool = False):
        if not (isinstance(max_memory_mb, (int, float))
                and max_memory_mb > 0):
            raise ValueError('DecodedCacheDataset: max_memory_mb must be a '
                             f'positive number of MiB, got {max_memory_mb!r}')
        self.dataset = build_dataset(dataset, 'DecodedCacheDataset',
                                     'wrapped')
        transforms = list(
            getattr(getattr(self.dataset, 'pipeline', None), 'transforms',
                    None) or [])
        if not transforms:
            raise ValueError(
                'DecodedCacheDataset: the wrapped dataset '
                f'({type(self.dataset).__name__}) has no pipeline transforms '
                'to cache; give it its pipeline (for QueryDatabaseDataset, '
                'wrap the QueryDatabaseDataset itself)')
        names = [_type_name(t) for t in transforms]
        if num_cached == 'auto':
            n = 0
            while n < len(names) and names[n] in DETERMINISTIC_TRANSFORMS:
                n += 1
            if n == 0:
                raise ValueError(
                    f'DecodedCacheDataset: num_cached=\'auto\' found nothing '
                    f'to cache: the pipeline starts with {names[0]}, which '
                    'is not one of the known deterministic transforms '
                    f'{DETERMINISTIC_TRANSFORMS}; set num_cached=k if the '
                    'first k transforms draw no random numbers, or drop the '
                    'wrapper')
        elif isinstance(num_cached, int) and not isinstance(
                num_cached, bool) and 1 <= num_cached <= len(names):
            n = num_cached
        else:
            raise ValueError(
                f'DecodedCacheDataset: num_cached={num_cached!r}; expected '
                f"'auto' or an int in 1..{len(names)} (the pipeline has "
                f'{len(names)} transforms: {names})')
        self.num_cached = n
        self.cached_transforms = Compose(transforms[:n])
        self.pipeline = Compose(transforms[n:])
        self.max_memory_mb = float(max_memory_mb)
        self._images: Union[np.ndarray, List[np.ndarray], None] = None
        self._extras: Optional[List[dict]] = None
        if not lazy_init:
            self.full_init()

    def __getattr__(self, name: str):
        # Delegate dataset attributes; guard the names that pickling and
        # copying look up before __init__ has set ``dataset``.
        if name.startswith('__') or name == 'dataset':
            raise AttributeError(name)
        return getattr(self.dataset, name)

    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's metainfo."""
        return copy.deepcopy(self.dataset.metainfo)

    @property
    def cache_nbytes(self) -> int:
        """Bytes held by the cached images (0 before :meth:`full_init`)."""
        if self._images is None:
            return 0
        if isinstance(self._images, np.ndarray):
            return self._images.nbytes
        return sum(img.nbytes for img in self._images)

    def __len__(self) -> int:
        return len(self.dataset)

    def _run_cached(self, idx: int) -> Tuple[np.ndarray, dict]:
        """The cached transforms' image for sample ``idx`` and the data-info
        keys they added or changed."""
        info = self.dataset.get_data_info(idx)
        before = dict(info)
        try:
            out = self.cached_transforms(info)
        except Exception as err:
            where = [f'sample {idx}'] + [
                f'{k}={before[k]!r}' for k in ('img_path', 'pool_index')
                if before.get(k) is not None
            ]
            raise SampleLoadError(
                f'DecodedCacheDataset: caching {", ".join(where)} failed in '
                f'{[_type_name(t) for t in self.cached_transforms.transforms]}'
                f': {type(err).__name__}: {err}') from err
        if out is None or not isinstance(out.get('img'), np.ndarray):
            raise ValueError(
                f'DecodedCacheDataset: the cached transforms '
                f'{[_type_name(t) for t in self.cached_transforms.transforms]}'
                f' gave no image array for sample {idx} (got '
                f'{type(out).__name__ if out is None else type(out.get("img")).__name__}'  # noqa: E501
                '); cache only transforms that load or resize the image')
        # Keep only what the cached transforms added or changed; the rest
        # comes from get_data_info at access time.
        delta = {
            k: v
            for k, v in out.items()
            if k != 'img' and (k not in before or not _same(before[k], v))
        }
        return out['img'], delta

    def _too_big(self, nbytes: float, n: int, what: str) -> ValueError:
        need = nbytes / 2**20
        return ValueError(
            f'DecodedCacheDataset: max_memory_mb={self.max_memory_mb:g} but '
            f'caching {n} images needs {what} {need:.0f} MiB; raise '
            f'max_memory_mb to at least {np.ceil(need):.0f}, cache fewer '
            'transforms (num_cached) so smaller images are kept, or drop '
            'the cache for this dataset')

    def full_init(self) -> None:
        """Decode (run the cached transforms on) every sample once."""
        if self._images is not None:
            return
        n = len(self.dataset)
        limit = self.max_memory_mb * 2**20
        first, delta = self._run_cached(0)
        if first.nbytes * n > limit:
            raise self._too_big(first.nbytes * n, n, 'about')
        stacked = np.empty((n, ) + first.shape, first.dtype)
        stacked[0] = first
        images: Union[np.ndarray, List[np.ndarray]] = stacked
        # Most samples share their delta (same shapes): share the dicts.
        shared = {}
        extras = [shared.setdefault(repr(sorted(delta.items())), delta)]
        total = first.nbytes
        for i in range(1, n):
            img, delta = self._run_cached(i)
            total += img.nbytes
            if total > limit:
                raise self._too_big(total / (i + 1) * n, n, 'about')
            if isinstance(images, np.ndarray) and (
                    img.shape != first.shape or img.dtype != first.dtype):
                images = list(images[:i])  # ragged: one array per image
            if isinstance(images, np.ndarray):
                images[i] = img
            else:
                images.append(img)
            extras.append(shared.setdefault(repr(sorted(delta.items())),
                                            delta))
        self._images, self._extras = images, extras
        print_log(
            f'DecodedCacheDataset: cached {n} images of '
            f'{type(self.dataset).__name__} after '
            f'{[_type_name(t) for t in self.cached_transforms.transforms]} '
            f'({self.cache_nbytes / 2**20:.1f} MiB)',
            logger='current')

    def get_data_info(self, idx: int) -> dict:
        """The data info after the cached transforms (image copied)."""
        self.full_init()
        info = self.dataset.get_data_info(idx)
        info.update(self._extras[idx])
        # A copy: the per-access transforms may change the image in place.
        info['img'] = self._images[idx].copy()
        return info

    def __getitem__(self, idx: int) -> dict:
        info = self.get_data_info(idx)
        try:
            data = self.pipeline(info)
        except Exception as err:
            raise SampleLoadError(
                f'DecodedCacheDataset: sample {idx} failed in the per-access '
                f'transforms: {type(err).__name__}: {err}') from err
        if data is None:
            raise RuntimeError(
                f'DecodedCacheDataset: the per-access pipeline returned None '
                f'for sample {idx}; filtering transforms are not supported '
                'after a cache')
        return data

    def __repr__(self) -> str:
        cached = [_type_name(t) for t in self.cached_transforms.transforms]
        rest = [_type_name(t) for t in self.pipeline.transforms]
        return (f'{type(self).__name__}({type(self.dataset).__name__}, '
                f'{len(self)} samples, cached {cached}, per access {rest}, '
                f'{self.cache_nbytes / 2**20:.1f} MiB)')

