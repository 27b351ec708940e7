"""TransferPairDataset and transfer_collate: index/epoch semantics, domain
tags, target labels dropped, source-then-target batches."""
import numpy as np
import pytest
import torch
from mmengine.registry import FUNCTIONS, DefaultScope
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

import hashplugins  # noqa: F401
from hashplugins.datasets import TransferPairDataset, transfer_collate


class _Toy(BaseDataset):
    """n tiny images; image value = sample index + offset; label = i % 3."""

    def __init__(self, n, offset=0, classes=('a', 'b', 'c'), domain_id=None,
                 **kwargs):
        self.n, self.offset, self.domain_id = n, offset, domain_id
        kwargs.setdefault('pipeline',
                          [dict(type='PackHashInputs', num_classes=3)])
        super().__init__(
            ann_file='', metainfo=dict(classes=classes), **kwargs)

    def load_data_list(self):
        infos = []
        for i in range(self.n):
            info = dict(img=np.full((4, 4, 3), self.offset + i, np.uint8),
                        gt_label=i % 3)
            if self.domain_id is not None:
                info['domain'] = self.domain_id
            infos.append(info)
        return infos


def _value(packed):
    return int(packed['inputs'][0, 0, 0])


def _pairs(n_source, n_target, **kwargs):
    return TransferPairDataset(
        _Toy(n_source), _Toy(n_target, offset=100), **kwargs)


def test_length_semantics():
    assert len(_pairs(5, 12)) == 12
    assert len(_pairs(12, 5)) == 12
    assert len(_pairs(5, 12, length='source')) == 5
    with pytest.raises(ValueError, match='length'):
        _pairs(5, 5, length='min')


def test_source_index_and_target_passes_are_shuffled_permutations():
    ds = _pairs(4, 10, seed=3)
    assert [ds.source_index(i) for i in range(10)] == [0, 1, 2, 3] * 2 + [
        0, 1
    ]
    targets = [ds.target_index(i) for i in range(10)]
    assert sorted(targets) == list(range(10))  # one full pass per epoch
    assert targets != list(range(10))  # in its own shuffled order
    # A longer target pass count (length='max' with a short target):
    ds = _pairs(12, 5, seed=3)
    passes = [[ds.target_index(c * 5 + j) for j in range(5)]
              for c in range(2)]
    assert all(sorted(p) == list(range(5)) for p in passes)
    assert passes[0] != passes[1]  # reshuffled at every pass
    # Seeded: same seed same order, other seed other order.
    again = _pairs(12, 5, seed=3)
    assert [again.target_index(i) for i in range(12)] == [
        ds.target_index(i) for i in range(12)
    ]
    other = _pairs(12, 5, seed=4)
    assert [other.target_index(i) for i in range(12)] != [
        ds.target_index(i) for i in range(12)
    ]
    with pytest.raises(IndexError):
        ds.target_index(12)


def test_items_are_tagged_and_target_labels_dropped():
    ds = _pairs(6, 6, seed=1)
    item = ds[2]
    src, tgt = item['source'], item['target']
    assert _value(src) == 2
    assert _value(tgt) == 100 + ds.target_index(2)
    assert src['data_samples'].metainfo['domain'] == 0
    assert tgt['data_samples'].metainfo['domain'] == 1
    assert src['data_samples'].gt_label.tolist() == [2]
    # Target: an empty label set (no class), all-zero multi-hot score.
    assert tgt['data_samples'].gt_label.numel() == 0
    assert tgt['data_samples'].gt_score.tolist() == [0., 0., 0.]
    kept = _pairs(6, 6, seed=1, drop_target_labels=False)
    assert kept[2]['target']['data_samples'].gt_label.tolist() == [
        ds.target_index(2) % 3
    ]


def test_collate_puts_sources_first():
    ds = _pairs(6, 9, seed=0)
    batch = transfer_collate([ds[i] for i in (4, 0, 2)])
    values = [int(x[0, 0, 0]) for x in batch['inputs']]
    assert values[:3] == [4, 0, 2]
    assert values[3:] == [100 + ds.target_index(i) for i in (4, 0, 2)]
    domains = [s.metainfo['domain'] for s in batch['data_samples']]
    assert domains == [0, 0, 0, 1, 1, 1]
    with pytest.raises(TypeError, match='TransferPairDataset items'):
        transfer_collate([ds[0]['source']])
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        assert FUNCTIONS.get('transfer_collate') is transfer_collate


def test_errors():
    with pytest.raises(ValueError, match='different classes'):
        TransferPairDataset(_Toy(3), _Toy(3, classes=('x', 'y', 'z')))
    with pytest.raises(ValueError, match='domain=1'):
        TransferPairDataset(_Toy(3, domain_id=1), _Toy(3))[0]
    with pytest.raises(ValueError, match='empty'):
        TransferPairDataset(_Toy(0, serialize_data=False), _Toy(3))


def test_builds_from_config_and_feeds_a_dataloader():
    from torch.utils.data import DataLoader
    from mmengine.dataset import DefaultSampler
    ds = DATASETS.build(
        dict(type='TransferPairDataset', source=_Toy(8),
             target=_Toy(8, offset=100), seed=0))
    loader = DataLoader(ds, batch_size=4, collate_fn=transfer_collate,
                        sampler=DefaultSampler(ds, shuffle=True, seed=0))
    seen_source, seen_target = set(), set()
    for batch in loader:
        values = [int(x[0, 0, 0]) for x in batch['inputs']]
        assert all(v < 100 for v in values[:4])
        assert all(v >= 100 for v in values[4:])
        seen_source.update(values[:4])
        seen_target.update(values[4:])
    assert seen_source == set(range(8))
    assert seen_target == set(range(100, 108))
    assert isinstance(batch['inputs'][0], torch.Tensor)
    # mmpretrain's ClsDataPreprocessor batches the mixed labelled/unlabelled
    # samples (it reads gt_label/gt_score of every sample).
    from mmpretrain.models.utils import ClsDataPreprocessor
    out = ClsDataPreprocessor()(batch, True)
    assert out['inputs'].shape == (8, 3, 4, 4)
    assert [s.gt_score.sum().item() for s in out['data_samples']
            ] == [1.] * 4 + [0.] * 4
