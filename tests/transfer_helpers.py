"""A MNIST -> USPS transfer config shrunk to a few seconds of real data."""
import os.path as osp

from mmengine.config import Config


def tiny_mnist2usps_cfg(config: str, shared_data: str, work_dir: str,
                        iters: int = 4) -> Config:
    """``config`` (a MNIST -> USPS transfer config) on 64 + 64 training
    images, 100 queries and 100 database images, ``iters`` iterations of 8
    images, no checkpoints (the first custom hook, WeightsOnlyCheckpoint,
    is dropped)."""
    cfg = Config.fromfile(config)
    mnist, usps = (osp.join(shared_data, d) for d in ('mnist', 'usps'))
    train = cfg.train_dataloader.dataset
    train.source.data_root, train.target.data_root = mnist, usps
    train.source.indices = train.target.indices = 64
    for part in ('query', 'database'):
        cfg.val_dataloader.dataset[part].data_root = usps
        cfg.val_dataloader.dataset[part].indices = 100
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_dataloader.batch_size = 8
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = iters
    cfg.custom_hooks = cfg.custom_hooks[1:]
    cfg.default_hooks.checkpoint = None
    cfg.work_dir = work_dir
    cfg.log_level = 'WARNING'
    return cfg
