"""Train a hashing model (mmpretrain's tools/train.py, plus hashplugins'
fixes for the pinned stack: CPU torchrun, --amp on CPU and with dict optim
wrappers, safe checkpoint loading, clean distributed exit).

Examples:
    python tools/train.py configs/dpsh/dpsh_lenet5_mnist5k_16bit.py
    bash tools/dist_train.sh configs/dadh/dadh_r50_cifar10_48bit.py 8
"""
import argparse
import os.path as osp
import sys
from copy import deepcopy

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config, ConfigDict  # noqa: E402

import hashplugins  # noqa: E402,F401  (registers everything)
from hashplugins.datasets.errors import DataNotFoundError  # noqa: E402
from hashplugins.datasets.preflight import (  # noqa: E402
    check_data_roots, data_error_message, show_traceback)
from hashplugins.engine.runner import (  # noqa: E402
    AMP_DTYPES, add_launch_args, build_runner, enable_amp,
    finish_distributed, parse_launch_args)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a hashing model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If a checkpoint path is given, resume from it; without a path, '
        'resume from the latest checkpoint in the work directory.')
    parser.add_argument(
        '--amp',
        nargs='?',
        const='auto',
        choices=AMP_DTYPES,
        help='mixed precision: AmpOptimWrapper on CUDA (float16; '
        '"--amp bfloat16" on GPUs that support it), bfloat16 autocast on '
        'CPU')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual total batch size over '
        'auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable pin_memory in the dataloaders')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='disable persistent_workers in the dataloaders')
    add_launch_args(parser)
    return parse_launch_args(parser)


def merge_args(cfg, args):
    """Merge command-line arguments into the config."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    cfg.launcher = args.launcher

    # work_dir priority: CLI > config file > config name.
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise KeyError(
                '--auto-scale-lr needs auto_scale_lr=dict(base_batch_size=N) '
                f'in the config {args.config}')
        cfg.auto_scale_lr.enable = True

    default_dataloader_cfg = ConfigDict(
        pin_memory=True,
        persistent_workers=True,
        collate_fn=dict(type='default_collate'),
    )

    def set_default_dataloader_cfg(cfg, field):
        if cfg.get(field, None) is None:
            return
        dataloader_cfg = deepcopy(default_dataloader_cfg)
        dataloader_cfg.update(cfg[field])
        if dataloader_cfg.get('num_workers', 0) == 0:
            # persistent_workers=True is an error without workers
            dataloader_cfg['persistent_workers'] = False
        cfg[field] = dataloader_cfg
        if args.no_pin_memory:
            cfg[field]['pin_memory'] = False
        if args.no_persistent_workers:
            cfg[field]['persistent_workers'] = False

    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        set_default_dataloader_cfg(cfg, field)

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    # After --cfg-options, so that an edited optim_wrapper is switched too.
    if args.amp:
        enable_amp(cfg, args.amp)
    return cfg


def main():
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    try:
        # Missing data: one short message before the Runner logs its
        # environment and config (HASHPLUGINS_TRACEBACK=1: the traceback).
        check_data_roots(cfg, ('train_dataloader', 'val_dataloader'))
        runner = build_runner(cfg, args.launcher, train=True)
        runner.train()
    except DataNotFoundError as err:
        if show_traceback():
            raise
        sys.exit(data_error_message(err))
    finish_distributed()


if __name__ == '__main__':
    main()
