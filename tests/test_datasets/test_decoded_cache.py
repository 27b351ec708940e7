"""DecodedCacheDataset: same samples as without the cache, random
transforms still drawn per access, a memory limit with a clear error."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmpretrain.registry import DATASETS

import hashplugins  # noqa: F401
from hashplugins.datasets import DecodedCacheDataset

torch.set_num_threads(1)
PACK = dict(type='PackHashInputs', num_classes=10)
RANDOM = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'), PACK
]


def _cifar_cfg(shared_data, pipeline, n=20):
    return dict(
        type='CIFAR10Hashing',
        data_root=osp.join(shared_data, 'cifar10'),
        split='train',
        indices=n,
        pipeline=pipeline)


def _usps_cfg(shared_data, n=20):
    return dict(
        type='USPSHashing',
        data_root=osp.join(shared_data, 'usps'),
        split='train',
        indices=n,
        pipeline=[dict(type='Resize', scale=(28, 28)), PACK])


def _same(a, b):
    return torch.equal(a['inputs'], b['inputs']) and torch.equal(
        a['data_samples'].gt_label, b['data_samples'].gt_label) and a[
            'data_samples'].metainfo == b['data_samples'].metainfo


@pytest.mark.parametrize('which', ['cifar', 'usps'])
def test_deterministic_pipeline_gives_the_same_samples(shared_data, which):
    cfg = (_cifar_cfg(shared_data, [dict(type='LoadImageFromFile'), PACK])
           if which == 'cifar' else _usps_cfg(shared_data))
    plain = DATASETS.build(cfg)
    cached = DATASETS.build(dict(type='DecodedCacheDataset', dataset=cfg))
    assert len(cached) == len(plain) == 20
    assert cached.num_cached == 1 and [
        type(t).__name__ for t in cached.pipeline.transforms
    ] == ['PackHashInputs']
    shape = (32, 32, 3) if which == 'cifar' else (28, 28, 3)
    assert cached._images.shape == (20, ) + shape
    assert cached._images.dtype == np.uint8
    for i in range(len(plain)):
        assert _same(plain[i], cached[i]), i
    assert cached.metainfo == plain.metainfo


def test_random_transforms_stay_random(shared_data):
    cfg = _cifar_cfg(shared_data, [dict(type='LoadImageFromFile')] + RANDOM)
    plain = DATASETS.build(cfg)
    cached = DATASETS.build(dict(type='DecodedCacheDataset', dataset=cfg))
    assert [type(t).__name__ for t in cached.pipeline.transforms
            ] == ['RandomCrop', 'RandomFlip', 'PackHashInputs']
    kept = cached._images.copy()
    # The cached transforms draw no random numbers: same seed, same
    # samples, random crops and flips included.
    np.random.seed(3)
    epoch1 = [cached[i] for i in range(20)]
    np.random.seed(3)
    assert all(_same(plain[i], epoch1[i]) for i in range(20))
    # A second pass draws new crops/flips from the cached pixels...
    epoch2 = [cached[i] for i in range(20)]
    differ = sum(not _same(a, b) for a, b in zip(epoch1, epoch2))
    assert differ >= 10
    # ...which the per-access transforms never modify.
    np.testing.assert_array_equal(cached._images, kept)


def test_memory_limit_and_bad_settings(shared_data):
    cfg = _cifar_cfg(shared_data, [dict(type='LoadImageFromFile'), PACK])
    # 20 x 32 x 32 x 3 bytes = 0.06 MiB.
    with pytest.raises(ValueError, match=r'max_memory_mb=0\.01 .*at least 1'):
        DecodedCacheDataset(cfg, max_memory_mb=0.01)
    with pytest.raises(ValueError, match='max_memory_mb must be'):
        DecodedCacheDataset(cfg, max_memory_mb=0)
    with pytest.raises(ValueError, match=r"num_cached=5; expected 'auto'"):
        DecodedCacheDataset(cfg, num_cached=5)
    # An in-memory set whose pipeline starts with a random transform.
    usps = _usps_cfg(shared_data)
    usps['pipeline'] = [dict(type='RandomFlip', prob=0.5), PACK]
    with pytest.raises(ValueError, match='starts with RandomFlip'):
        DecodedCacheDataset(usps)
    # Explicit num_cached is the caller's word.
    assert DecodedCacheDataset(usps, num_cached=1).num_cached == 1


def test_wraps_query_database(shared_data):
    sub = _cifar_cfg(shared_data, [], n=6)
    qd = dict(
        type='QueryDatabaseDataset',
        query=dict(sub, split='query'),
        database=dict(sub, split='database'),
        pipeline=[dict(type='LoadImageFromFile'), PACK])
    plain = DATASETS.build(qd)
    cached = DATASETS.build(dict(type='DecodedCacheDataset', dataset=qd))
    assert len(cached) == 12 and cached.num_query == 6
    assert cached.metainfo['num_database'] == 6
    for i in (0, 7, 11):
        assert _same(plain[i], cached[i])
    assert cached[7]['data_samples'].split == 'database'
