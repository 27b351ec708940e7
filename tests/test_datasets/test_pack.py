"""PackHashInputs: labels as indices and multi-hot, hashing meta keys."""
import numpy as np
import pytest
import torch
from mmpretrain.registry import TRANSFORMS


def _results(**extra):
    r = dict(
        img=np.zeros((5, 6, 3), np.uint8),
        gt_label=2,
        sample_idx=7,
        split='query',
        domain=1,
        img_path='x.jpg',
        ori_shape=(5, 6),
        img_shape=(5, 6),
        pool_index=123)
    r.update(extra)
    return r


def test_single_label_with_multi_hot():
    pack = TRANSFORMS.build(dict(type='PackHashInputs', num_classes=4))
    out = pack(_results())
    assert out['inputs'].shape == (3, 5, 6)
    assert out['inputs'].dtype == torch.uint8
    s = out['data_samples']
    assert s.gt_label.tolist() == [2]
    assert s.gt_score.tolist() == [0.0, 0.0, 1.0, 0.0]
    for key, value in dict(
            sample_idx=7,
            split='query',
            domain=1,
            img_path='x.jpg',
            ori_shape=(5, 6),
            img_shape=(5, 6)).items():
        assert s.metainfo[key] == value
    assert 'pool_index' not in s.metainfo


def test_multi_label_and_no_num_classes():
    out = TRANSFORMS.build(dict(type='PackHashInputs', num_classes=5))(
        _results(gt_label=[0, 3]))
    assert out['data_samples'].gt_score.tolist() == [1, 0, 0, 1, 0]
    out = TRANSFORMS.build(dict(type='PackHashInputs'))(
        _results(gt_label=np.array([1, 4])))
    assert out['data_samples'].gt_label.tolist() == [1, 4]
    assert 'gt_score' not in out['data_samples']


def test_no_positive_label():
    # A list line kept with allow_empty_labels=True: relevant to nothing.
    out = TRANSFORMS.build(dict(type='PackHashInputs', num_classes=3))(
        _results(gt_label=[]))
    assert out['data_samples'].gt_label.tolist() == []
    assert out['data_samples'].gt_score.tolist() == [0.0, 0.0, 0.0]


def test_absent_tags_are_not_invented():
    r = _results()
    for key in ('split', 'domain', 'img_path'):
        r.pop(key)
    s = TRANSFORMS.build(dict(type='PackHashInputs'))(r)['data_samples']
    assert 'split' not in s.metainfo and 'domain' not in s.metainfo


def test_gray_image_packs_to_one_channel():
    out = TRANSFORMS.build(dict(type='PackHashInputs'))(
        _results(img=np.zeros((4, 4), np.uint8)))
    assert out['inputs'].shape == (1, 4, 4)


@pytest.mark.parametrize('label, message', [
    (4, 'index 4, but num_classes=4'),
    ([1, 9], 'index 9'),
    (-1, 'negative index'),
    (np.array([0.0, 1.0, 0.0]), 'not a multi-hot vector'),
    ('cat', 'expected an int'),
])
def test_bad_labels(label, message):
    pack = TRANSFORMS.build(dict(type='PackHashInputs', num_classes=4))
    with pytest.raises(ValueError, match=message) as err:
        pack(_results(gt_label=label))
    assert "img_path='x.jpg'" in str(err.value)


def test_missing_image_and_bad_num_classes():
    r = _results()
    r.pop('img')
    with pytest.raises(KeyError, match='LoadImageFromFile'):
        TRANSFORMS.build(dict(type='PackHashInputs'))(r)
    with pytest.raises(ValueError, match='num_classes'):
        TRANSFORMS.build(dict(type='PackHashInputs', num_classes=0))
