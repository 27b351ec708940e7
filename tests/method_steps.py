"""Each method's shipped CPU config as a model, its optimizers and
synthetic batches in the layout its training data loader delivers.

Used by the device tests (one training step, predict and host syncs per
method). Backbone checkpoints are never fetched: ``Pretrained`` init_cfgs
are dropped. Named apart from test files so no test folder shadows it.
"""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

# method -> (CPU config, image channels, the batch's second part: the tag
# that marks it and the tag's values for (first part, second part))
METHODS = {
    'dpsh': ('configs/dpsh/dpsh_lenet5_mnist5k_16bit.py', 1, None),
    'tah': ('configs/tah/tah_lenet5_mnist2usps_16bit.py', 1,
            ('domain', 0, 1)),
    'metah': ('configs/metah/metah_lenet5_mnist2usps_16bit.py', 1,
              ('domain', 0, 1)),
    'dadh': ('configs/dadh/dadh_lenet5_mnist_16bit.py', 1, None),
    'ganreg-stage1': (
        'configs/ganreg/dcgan-s_cifar10-100pc_32px_stage1_cpu.py', 3, None),
    'ganreg': ('configs/ganreg/ganreg_r18s_cifar10-100pc_32px_12bit_cpu.py',
               3, ('is_fake', False, True)),
    'dsh-gans': ('configs/dsh_gans/dsh-gans_r18s_cifar10-500pc_32px_12bit_'
                 'cpu.py', 3, ('is_labelled', True, False)),
    'dsh-gans-real-triplets': (
        'configs/dsh_gans/real-triplets_r18s_cifar10-500pc_32px_12bit_'
        'cpu.py', 3, ('is_labelled', True, False)),
}
NUM_CLASSES = 10
DADH_TRAIN_SET = 64


def drop_pretrained(cfg):
    """Remove every ``Pretrained`` init_cfg (tests never download)."""
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for value in cfg.values():
            drop_pretrained(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            drop_pretrained(value)


def method_config(method: str) -> Config:
    cfg = Config.fromfile(osp.join(REPO, METHODS[method][0]))
    drop_pretrained(cfg)
    return cfg


def build_method(method: str, device='cpu'):
    """``(model, optim_wrapper)`` of ``method``'s config on ``device``."""
    cfg = method_config(method)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        model = model.to(device)
        if method == 'dadh':  # DADHCodeUpdateHook does this in a run
            labels = torch.nn.functional.one_hot(
                torch.arange(DADH_TRAIN_SET) % NUM_CLASSES, NUM_CLASSES)
            model.attach_training_set(labels.float().to(device))
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    return model, optim_wrapper


def method_batch(method: str, num: int, seed: int = 0) -> dict:
    """A collated training batch of ``num`` labelled images (and, for the
    paired datasets, ``num`` images of the second part after them, with
    no labels) as the method's collate function gives it."""
    _, channels, tag = METHODS[method]
    g = torch.Generator().manual_seed(seed)
    total = num if tag is None else 2 * num
    inputs = [torch.randint(0, 256, (channels, 32, 32), generator=g,
                            dtype=torch.uint8) for _ in range(total)]
    samples = []
    for i in range(total):
        first = i < num
        meta = dict(sample_idx=(seed * 7 + i) % DADH_TRAIN_SET)
        if tag is not None:
            meta[tag[0]] = tag[1] if first else tag[2]
        sample = DataSample(metainfo=meta)
        samples.append(sample.set_gt_label(
            (seed + i) % NUM_CLASSES if first else []))
    return dict(inputs=inputs, data_samples=samples)


def predict_batch(num: int, channels: int, seed: int = 0) -> dict:
    """A validation batch: half queries, half database items."""
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (channels, 32, 32), generator=g,
                            dtype=torch.uint8) for _ in range(num)]
    samples = [DataSample(metainfo=dict(
        sample_idx=i, split='query' if i % 2 else 'database'))
        .set_gt_label(i % NUM_CLASSES) for i in range(num)]
    return dict(inputs=inputs, data_samples=samples)
