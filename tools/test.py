"""Test (and evaluate) a hashing model: mmpretrain's tools/test.py with
hashplugins' launch fixes, safe checkpoint loading, and ``--out`` to dump
the query/database codes and labels for offline evaluation
(``tools/analysis_tools/eval_codes.py``).

Examples:
    python tools/test.py CONFIG CHECKPOINT
    python tools/test.py CONFIG CHECKPOINT --out work_dirs/codes.npz
    bash tools/dist_test.sh CONFIG CHECKPOINT 8
"""
import argparse
import json
import os
import os.path as osp
import sys
from copy import deepcopy

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config, ConfigDict  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402

import hashplugins  # noqa: E402,F401  (registers everything)
from hashplugins.datasets.errors import DataNotFoundError  # noqa: E402
from hashplugins.datasets.preflight import (  # noqa: E402
    check_data_roots, data_error_message, show_traceback)
from hashplugins.engine.runner import (  # noqa: E402
    add_launch_args, build_runner, finish_distributed, parse_launch_args)

CODES_METRIC = 'HammingRetrievalMetric'


def parse_args():
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a hashing model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the directory to save logs and metrics')
    parser.add_argument(
        '--out',
        help='output file: the query/database codes and labels (.npz, read '
        'by tools/analysis_tools/eval_codes.py), or the metrics (.json) '
        'with --out-item metrics')
    parser.add_argument(
        '--out-item',
        choices=['codes', 'metrics'],
        default='codes',
        help='what --out holds. Defaults to codes.')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable pin_memory in the dataloader')
    add_launch_args(parser)
    return parse_launch_args(parser)


def merge_args(cfg, args):
    """Merge command-line arguments into the config."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint

    dataloader_cfg = deepcopy(
        ConfigDict(pin_memory=True, collate_fn=dict(type='default_collate')))
    dataloader_cfg.update(cfg.test_dataloader)
    if args.no_pin_memory:
        dataloader_cfg['pin_memory'] = False
    cfg.test_dataloader = dataloader_cfg

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    if args.out and args.out_item == 'codes':
        evaluators = cfg.test_evaluator
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        targets = [e for e in evaluators if e.get('type') == CODES_METRIC]
        if not targets:
            raise ValueError(
                f'--out needs a {CODES_METRIC} in test_evaluator of '
                f'{args.config}; found {[e.get("type") for e in evaluators]}')
        # The first Hamming metric writes the codes file on rank 0.
        targets[0]['out_file'] = args.out
    return cfg


def main():
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    try:
        # Missing data: one short message, as in tools/train.py.
        check_data_roots(cfg, ('test_dataloader', ))
        runner = build_runner(cfg, args.launcher)
        metrics = runner.test()
    except DataNotFoundError as err:
        if show_traceback():
            raise
        sys.exit(data_error_message(err))

    if args.out and args.out_item == 'metrics' and is_main_process():
        tmp = args.out + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(metrics, f, indent=2, sort_keys=True,
                      default=lambda v: v.tolist()
                      if hasattr(v, 'tolist') else str(v))
        os.replace(tmp, args.out)
    finish_distributed()


if __name__ == '__main__':
    main()
