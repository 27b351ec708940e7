"""hash_collate: the same preprocessed batch as pseudo_collate, one stacked
input tensor, data samples that survive the worker queue unchanged."""
import glob
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS, init_default_scope
from mmpretrain.registry import DATASETS, MODELS
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader

import hashplugins  # noqa: F401
from hashplugins.datasets import CollatedSamples, hash_collate

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
torch.set_num_threads(1)


def _cifar(shared_data, pipeline, n=24):
    return DATASETS.build(
        dict(
            type='CIFAR10Hashing',
            data_root=osp.join(shared_data, 'cifar10'),
            split='train',
            indices=n,
            pipeline=pipeline))


def _usps(shared_data, n=24):
    # The quick-start shape: one gray channel, resized (28x28 here).
    return DATASETS.build(
        dict(
            type='USPSHashing',
            data_root=osp.join(shared_data, 'usps'),
            split='train',
            three_channels=False,
            indices=n,
            pipeline=[
                dict(type='Resize', scale=(28, 28)),
                dict(type='PackHashInputs', num_classes=10)
            ]))


def _preprocess(config, batch):
    cfg = Config.fromfile(osp.join(REPO, config))
    init_default_scope('mmpretrain')
    pre = MODELS.build(cfg.data_preprocessor)
    return pre(batch, training=True)


def _assert_same_batch(a, b):
    assert torch.equal(a['inputs'], b['inputs'])
    assert a['inputs'].dtype == b['inputs'].dtype
    assert len(a['data_samples']) == len(b['data_samples'])
    for x, y in zip(a['data_samples'], b['data_samples']):
        assert torch.equal(x.gt_label, y.gt_label)
        assert torch.equal(x.gt_score, y.gt_score)
        assert x.metainfo == y.metainfo


@pytest.mark.parametrize('which', ['cifar', 'usps'])
def test_preprocessed_batch_equals_pseudo_collate(shared_data, which):
    if which == 'cifar':
        # The CIFAR base config's preprocessor: BGR->RGB, per-channel norm.
        ds = _cifar(shared_data, [
            dict(type='LoadImageFromFile'),
            dict(type='PackHashInputs', num_classes=10)
        ])
        config = 'configs/_base_/datasets/cifar10_hashing.py'
        channels = 3
    else:
        ds = _usps(shared_data)
        config = 'configs/dpsh/dpsh_lenet5_mnist5k_16bit.py'
        channels = 1
    items = [ds[i] for i in range(len(ds))]
    stacked = hash_collate(items)
    assert isinstance(stacked['inputs'], torch.Tensor)
    assert stacked['inputs'].shape[0] == len(items)
    assert isinstance(stacked['data_samples'], CollatedSamples)
    listed = pseudo_collate(items)
    assert isinstance(listed['inputs'], list)
    a = _preprocess(config, listed)
    b = _preprocess(config, stacked)
    _assert_same_batch(a, b)
    # The normalized values really are normalized (not both raw).
    assert a['inputs'].dtype == torch.float32
    assert abs(float(a['inputs'].mean())) < 2.5
    assert a['inputs'].shape[1] == channels


def test_worker_batches_equal_in_process_batches(shared_data):
    ds = _cifar(shared_data, [
        dict(type='LoadImageFromFile'),
        dict(type='PackHashInputs', num_classes=10)
    ], n=16)
    kw = dict(batch_size=8, shuffle=False, collate_fn=hash_collate)
    local = list(DataLoader(ds, num_workers=0, **kw))
    remote = list(DataLoader(ds, num_workers=1, **kw))
    assert len(local) == len(remote) == 2
    for a, b in zip(local, remote):
        assert type(b['data_samples']) is CollatedSamples
        _assert_same_batch(a, b)
        assert b['data_samples'][0].gt_label.dtype == torch.int64


def test_pickle_roundtrip_keeps_fields_and_odd_tensors():
    s = DataSample(metainfo=dict(img_shape=(4, 4), split='query'))
    s.set_gt_label(3).set_gt_score(torch.tensor([0., 1.]))
    s.set_field(torch.ones(2, dtype=torch.bfloat16), 'half')
    s.set_field(torch.ones(2, requires_grad=True), 'grad')
    back = pickle.loads(pickle.dumps(CollatedSamples([s, 'not a sample'])))
    assert type(back) is CollatedSamples and back[1] == 'not a sample'
    r = back[0]
    assert r.metainfo == s.metainfo and set(r.keys()) == set(s.keys())
    assert torch.equal(r.gt_label, s.gt_label)
    assert r.half.dtype == torch.bfloat16 and r.grad.requires_grad
    # Arrived tensors own writable memory of their own.
    r.gt_score += 1
    assert torch.equal(s.gt_score, torch.tensor([0., 1.]))


def test_fallbacks_match_pseudo_collate():
    # Ragged images stay a list (ClsDataPreprocessor pads them).
    items = [
        dict(inputs=torch.zeros(3, 4, 4, dtype=torch.uint8)),
        dict(inputs=torch.zeros(3, 5, 4, dtype=torch.uint8))
    ]
    assert isinstance(hash_collate(items)['inputs'], list)
    mixed = [dict(inputs=torch.zeros(2)), dict(inputs=torch.zeros(2).int())]
    assert isinstance(hash_collate(mixed)['inputs'], list)
    # Other item structures: exactly pseudo_collate.
    pairs = [(np.int64(1), 'a'), (np.int64(2), 'b')]
    assert hash_collate(pairs) == pseudo_collate(pairs)
    assert FUNCTIONS.get('hash_collate') is hash_collate


def test_stacking_configs_use_cls_preprocessor():
    """Stacking is only safe where the preprocessor treats a stacked
    tensor as the list (mmpretrain's ClsDataPreprocessor)."""
    base = sorted(glob.glob(osp.join(REPO, 'configs/_base_/datasets/*.py')))
    for path in base:
        cfg = Config.fromfile(path)
        for key in ('train_dataloader', 'val_dataloader'):
            assert cfg[key].collate_fn == dict(type='hash_collate'), (path,
                                                                      key)
    paths = [
        p for p in glob.glob(osp.join(REPO, 'configs/**/*.py'),
                             recursive=True) if '/_base_/' not in p
    ]
    using = 0
    for path in sorted(paths):
        cfg = Config.fromfile(path)
        loaders = [cfg.get(k) for k in ('train_dataloader', 'val_dataloader')]
        if not any(dl and dl.get('collate_fn', {}).get('type') ==
                   'hash_collate' for dl in loaders):
            continue
        using += 1
        pre = cfg.model.get('data_preprocessor') or cfg.get(
            'data_preprocessor') or dict(type='ClsDataPreprocessor')
        assert pre.get('type', 'ClsDataPreprocessor') in (
            'ClsDataPreprocessor', 'mmpretrain.ClsDataPreprocessor'), path
    assert using > 10
